// The types of agent turns shared by several schema files: tools offered to a model, the choice of tool,
// why a model stopped, and a tool call as the model made it.
import { builder } from '../builder.ts';
import type { Tool as ToolShape } from '../tools.ts';

export const ToolInput = builder.inputType('ToolInput', {
  description: 'A function the client runs when the model calls it.',
  fields: (t) => ({
    name: t.string({ required: true, description: '[A-Za-z0-9_-]{1,64}, unique in a list.' }),
    description: t.string(),
    parameters: t.field({ type: 'JSON', required: true, description: 'A JSON Schema object describing the arguments.' }),
  }),
});

export const Tool = builder.objectRef<ToolShape>('Tool').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    parameters: t.expose('parameters', { type: 'JSON' }),
  }),
});

export const ToolChoiceEnum = builder.enumType('ToolChoice', {
  values: {
    AUTO: { description: 'The model decides whether to call a tool.' },
    NONE: { description: 'No tool is offered.' },
    REQUIRED: { description: 'The model calls one of the tools.' },
  } as const,
});

export const FinishReasonEnum = builder.enumType('FinishReason', {
  values: ['STOP', 'LENGTH', 'TOOL_CALLS', 'CONTENT_FILTER', 'ERROR', 'OTHER'] as const,
});

export type ToolCallShape = { id: string; name: string; arguments: string };

export const ToolCall = builder.objectRef<ToolCallShape>('ToolCall').implement({
  description: 'A call the model made.',
  fields: (t) => ({
    id: t.exposeString('id'),
    name: t.exposeString('name'),
    arguments: t.exposeString('arguments', { description: 'The JSON text the model wrote.' }),
  }),
});
