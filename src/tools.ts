// Tools a turn offers the model (functions the client runs): their validation, and which ones a turn
// offers with which choice. Stored as data on the conversation; never run by the server.
import { invalidField } from './errors.ts';

export type Tool = { name: string; description: string | null; parameters: Record<string, unknown> };
export type ToolChoice = 'AUTO' | 'NONE' | 'REQUIRED';
/** What a generation offers the model. */
export type OfferedTools = { tools: Tool[]; choice: ToolChoice };

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_TOOLS = 128;
/** All of a list's tools, serialised: room for large schemas, not for a payload smuggled in as one. */
export const MAX_TOOLS_BYTES = 64 * 1024;
const MAX_DESCRIPTION_CHARS = 4_000;

type ToolInput = { name: string; description?: string | null; parameters?: unknown };

/** The tools of an input, checked: names of [A-Za-z0-9_-]{1,64}, unique, parameters a JSON Schema object. */
export function checkTools(tools: readonly ToolInput[], field = 'tools'): Tool[] {
  if (tools.length > MAX_TOOLS) throw invalidField(field, `must be at most ${MAX_TOOLS} tools`);
  const seen = new Set<string>();
  const checked = tools.map((tool, i) => {
    if (!NAME.test(tool.name)) throw invalidField(`${field}[${i}].name`, 'must be 1 to 64 letters, digits, _ or -');
    if (seen.has(tool.name)) throw invalidField(`${field}[${i}].name`, `"${tool.name}" is given twice`);
    seen.add(tool.name);
    if (tool.description != null && tool.description.length > MAX_DESCRIPTION_CHARS) {
      throw invalidField(`${field}[${i}].description`, `must be at most ${MAX_DESCRIPTION_CHARS} characters`);
    }
    const problem = schemaProblem(tool.parameters);
    if (problem) throw invalidField(`${field}[${i}].parameters`, problem);
    return { name: tool.name, description: tool.description ?? null, parameters: tool.parameters as Record<string, unknown> };
  });
  if (Buffer.byteLength(JSON.stringify(checked)) > MAX_TOOLS_BYTES) throw invalidField(field, `must be at most ${MAX_TOOLS_BYTES / 1024} KiB serialised`);
  return checked;
}

/** Function tools take an object of arguments: the schema is an object schema (type "object", if stated). */
function schemaProblem(schema: unknown): string | null {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return 'must be a JSON Schema object';
  const { type, properties, required } = schema as Record<string, unknown>;
  if (type !== undefined && type !== 'object') return 'must describe an object ("type": "object")';
  if (properties !== undefined && (properties === null || typeof properties !== 'object' || Array.isArray(properties))) return '"properties" must be an object';
  if (required !== undefined && (!Array.isArray(required) || required.some((name) => typeof name !== 'string'))) return '"required" must be a list of names';
  return null;
}

/** The tools a turn offers: the input's when given, else the conversation's; NONE offers none. */
export function offeredTools(turnTools: Tool[] | null | undefined, conversationTools: unknown, choice: ToolChoice | null | undefined): OfferedTools {
  const tools = turnTools ?? (Array.isArray(conversationTools) ? (conversationTools as Tool[]) : []);
  const chosen = choice ?? 'AUTO';
  return { tools: chosen === 'NONE' ? [] : tools, choice: chosen };
}
