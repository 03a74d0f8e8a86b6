// The types of agent turns shared by several schema files: tools offered to a model, the choice of tool,
// why a model stopped, and a tool call as the model made it.
import { builder } from '../builder.ts';
import { chargeText } from './costly.ts';
import type { Tool as ToolShape } from '../tools.ts';

export const ToolInput = builder.inputType('ToolInput', {
  description: 'A function the client runs when the model calls it.',
  fields: (t) => ({
    name: t.string({ required: true, description: '[A-Za-z0-9_-]{1,64}, unique in a list.' }),
    description: t.string({ description: 'What it does, for the model.' }),
    parameters: t.field({ type: 'JSON', required: true, description: 'A JSON Schema object describing the arguments.' }),
  }),
});

export const Tool = builder.objectRef<ToolShape>('Tool').implement({
  description: 'A function offered to the model, which the client runs when the model calls it.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Its name, unique in its list.' }),
    description: t.exposeString('description', { nullable: true, description: 'What it does, for the model.' }),
    parameters: t.expose('parameters', { type: 'JSON', description: 'A JSON Schema object describing the arguments.' }),
  }),
});

export const ToolChoiceEnum = builder.enumType('ToolChoice', {
  description: 'Whether the model may, must or must not call a tool on this turn.',
  values: {
    AUTO: { description: 'The model decides whether to call a tool.' },
    NONE: { description: 'No tool is offered.' },
    REQUIRED: { description: 'The model calls one of the tools.' },
  } as const,
});

export const FinishReasonEnum = builder.enumType('FinishReason', {
  description: 'Why the model stopped.',
  values: {
    STOP: { description: 'It had finished.' },
    LENGTH: { description: 'It reached its token limit.' },
    TOOL_CALLS: { description: 'It called tools: answer them with submitToolResults.' },
    CONTENT_FILTER: { description: "The provider's content filter stopped it." },
    ERROR: { description: 'The provider reported an error.' },
    OTHER: { description: 'Any other reason the provider gave.' },
  } as const,
});

export type ToolCallShape = { id: string; name: string; arguments: string };

export const ToolCall = builder.objectRef<ToolCallShape>('ToolCall').implement({
  description: 'A call the model made.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The call\'s ID: answer it with a result of this toolCallId.' }),
    name: t.exposeString('name', { description: 'The tool called.' }),
    arguments: t.string({ description: 'The JSON text the model wrote.', resolve: (call, _args, ctx) => chargeText(ctx, call.arguments, 'arguments') }),
  }),
});
