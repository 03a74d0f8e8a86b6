// A model's streamed reply, reduced to what this server keeps: text, reasoning, tool calls, why it stopped
// and token usage. Read the same way on a provider thread and, with no provider thread, on the main one.
import {
  APICallError,
  type LanguageModelV3,
  type LanguageModelV3FinishReason,
  type LanguageModelV3FunctionTool,
  type LanguageModelV3Prompt,
  type LanguageModelV3StreamPart,
  type LanguageModelV3ToolChoice,
  type SharedV3ProviderMetadata,
} from '@ai-sdk/provider';
import { reportedCount } from '../validation.ts';
import { beforeHandover } from './stream-handover.ts';
import { cutText } from '../text-cut.ts';

export type Usage = { inputTokens?: number; outputTokens?: number; reasoningTokens?: number; cachedInputTokens?: number };

export type FinishReason = 'STOP' | 'LENGTH' | 'TOOL_CALLS' | 'CONTENT_FILTER' | 'ERROR' | 'OTHER';

/** What a provider attaches to a part (Anthropic's thinking signatures), keyed by provider. */
export type ProviderMetadata = SharedV3ProviderMetadata;

/** The parts of a reply, in the order the model produced them. */
export type ReplyPart =
  | { kind: 'text'; text: string }
  /** `block`: one reasoning block (providers can give several); metadata comes with its first or last piece. */
  | { kind: 'reasoning'; block: string; text: string; metadata?: ProviderMetadata }
  /** A piece of a tool call's arguments (JSON text), as the model writes them. */
  | { kind: 'toolInput'; id: string; name: string; delta: string }
  | { kind: 'toolCall'; id: string; name: string; arguments: string }
  | { kind: 'finish'; usage: Usage; reason: FinishReason };

/** What the model is asked: the conversation, and the tools it may call. */
export type ReplyRequest = { prompt: LanguageModelV3Prompt; tools?: LanguageModelV3FunctionTool[]; toolChoice?: LanguageModelV3ToolChoice };

/** How a provider failed: an HTTP error answer, a connection or stream that broke, a prompt it could not take. */
export type ProviderFailureKind = 'http' | 'connection' | 'invalid_prompt';

/** The provider failed: `description` is fit for a user; `details` are for the log. */
export class ProviderFailure extends Error {
  constructor(
    readonly description: string,
    readonly details: Record<string, unknown> = {},
    readonly kind: ProviderFailureKind = 'connection',
  ) {
    super(description);
    this.name = 'ProviderFailure';
  }
}

/**
 * The reply's parts as they stream. A provider error ends it with a ProviderFailure, after whatever came
 * before the error.
 */
export async function* readReply(model: LanguageModelV3 | Promise<LanguageModelV3>, request: ReplyRequest, abortSignal: AbortSignal): AsyncGenerator<ReplyPart> {
  let reader: ReadableStreamDefaultReader<LanguageModelV3StreamPart> | undefined;
  const calls = new ToolCalls();
  let finished = false;
  try {
    const provider = await model;
    reader = (await beforeHandover(abortSignal, () => provider.doStream({ ...request, abortSignal }))).stream.getReader();
    for (;;) {
      const { done, value: part } = await reader.read();
      if (done) break;
      switch (part.type) {
        case 'text-delta':
          if (part.delta) yield { kind: 'text', text: storable(part.delta) };
          break;
        case 'reasoning-start':
        case 'reasoning-delta':
        case 'reasoning-end': {
          const text = part.type === 'reasoning-delta' ? storable(part.delta) : '';
          if (text || part.providerMetadata) yield { kind: 'reasoning', block: part.id, text, ...(part.providerMetadata && { metadata: part.providerMetadata }) };
          break;
        }
        case 'tool-input-start':
          calls.start(part.id, part.toolName);
          break;
        case 'tool-input-delta':
          if (part.delta) yield { kind: 'toolInput', id: part.id, name: calls.piece(part.id), delta: storable(part.delta) };
          break;
        case 'tool-call':
          if (part.providerExecuted) break;
          calls.complete(part.toolCallId, part.toolName);
          yield { kind: 'toolCall', id: part.toolCallId, name: part.toolName, arguments: storable(part.input) };
          break;
        case 'finish':
          // A provider whose vendor never said why it stopped (OpenAI's, on a stream cut short) still
          // finishes, with a reason of `other` and none of the vendor's own.
          finished = !(part.finishReason.unified === 'other' && part.finishReason.raw === undefined);
          if (finished) yield { kind: 'finish', usage: usageOf(part.usage), reason: finishReasonOf(part.finishReason) };
          break;
        case 'error':
          throw part.error;
      }
    }
    // A provider says how a reply ended once its vendor has (Anthropic's message_stop, OpenAI's finish_reason):
    // an answer that stops short of it, cleanly closed or never a stream, is a reply cut off, not one complete.
    if (!finished) throw new ProviderFailure('The model provider\'s answer ended before the reply did.');
  } catch (error) {
    if (abortSignal.aborted) throw abortSignal.reason;
    throw toProviderFailure(error);
  } finally {
    reader?.cancel().catch(() => {}); // after an error part, close the upstream response too
  }
}

/**
 * The tool calls of one reply as a provider streams them: each id begins once and completes once, and at
 * most MAX_TOOL_CALLS_PER_REPLY ids in all. A provider may gather every call and complete them all at the
 * end, in one burst: past the most, the reply fails as the first call too many begins, not after the burst.
 * An id sent again would be a call the count does not see (and an answer to it would answer them all).
 */
class ToolCalls {
  readonly #names = new Map<string, string>(); // by id: a call's name comes with its first piece only
  readonly #completed = new Set<string>();

  start(id: string, name: string): void {
    if (this.#names.has(id)) throw repeatedToolCall(id);
    this.#add(id, name);
  }

  /** Takes a piece of a call: its call's name (a piece of a call that never began begins it, nameless). */
  piece(id: string): string {
    if (!this.#names.has(id)) this.#add(id, '');
    return this.#names.get(id)!;
  }

  complete(id: string, name: string): void {
    if (this.#completed.has(id)) throw repeatedToolCall(id);
    if (this.#names.has(id)) checkToolCallSize(id, name);
    else this.#add(id, name);
    this.#completed.add(id);
  }

  #add(id: string, name: string): void {
    checkToolCallSize(id, name);
    if (this.#names.size >= MAX_TOOL_CALLS_PER_REPLY) throw new ProviderFailure(`The model provider sent more than ${MAX_TOOL_CALLS_PER_REPLY} tool calls in one reply.`);
    this.#names.set(id, name);
  }
}

const repeatedToolCall = (id: string) => new ProviderFailure('The model provider sent two tool calls with one id in one reply.', { toolCallId: cutText(id, 64) });

function usageOf(usage: Extract<LanguageModelV3StreamPart, { type: 'finish' }>['usage']): Usage {
  return {
    inputTokens: reportedCount(usage.inputTokens.total),
    outputTokens: reportedCount(usage.outputTokens.total),
    reasoningTokens: reportedCount(usage.outputTokens.reasoning),
    cachedInputTokens: reportedCount(usage.inputTokens.cacheRead),
  };
}

const FINISH_REASONS: Record<LanguageModelV3FinishReason['unified'], FinishReason> = {
  stop: 'STOP',
  length: 'LENGTH',
  'tool-calls': 'TOOL_CALLS',
  'content-filter': 'CONTENT_FILTER',
  error: 'ERROR',
  other: 'OTHER',
};

const finishReasonOf = (reason: LanguageModelV3FinishReason) => FINISH_REASONS[reason.unified] ?? 'OTHER';

/** A provider's metadata for one block, gathered from its pieces (a signature comes after the text). */
export function mergeMetadata(a: ProviderMetadata | undefined, b: ProviderMetadata | undefined): ProviderMetadata | undefined {
  if (!a) return b;
  if (!b) return a;
  const merged: ProviderMetadata = { ...a };
  for (const [provider, values] of Object.entries(b)) merged[provider] = { ...merged[provider], ...values };
  return merged;
}

/** Tool calls one reply may make: as many as a turn may offer tools (each called twice in parallel, say, is within it). */
export const MAX_TOOL_CALLS_PER_REPLY = 128;

/** The longest tool call id or name taken from a provider (offered tools' names have at most 64 characters). */
export const MAX_TOOL_CALL_ID_CHARS = 256;

/**
 * Fails the reply unless a tool call's id and name are of a size a model could mean: every streamed piece
 * of a call carries both, so one huge name would be copied into every event of the reply.
 */
function checkToolCallSize(id: string, name: string): void {
  if (id.length > MAX_TOOL_CALL_ID_CHARS || name.length > MAX_TOOL_CALL_ID_CHARS) {
    throw new ProviderFailure(`The model provider sent a tool call whose id or name is longer than ${MAX_TOOL_CALL_ID_CHARS} characters.`, { idChars: id.length, nameChars: name.length });
  }
}

/** PostgreSQL text cannot hold NUL: a provider that sends one gets the replacement character in its place. */
const storable = (text: string) => (text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text);

/** Words fit for a user, and the details for the log. */
export function toProviderFailure(error: unknown): ProviderFailure {
  // One of this server's own limits, raised while the answer was read: fetch and the provider wrap it.
  for (let cause = error, depth = 0; cause instanceof Error && depth < 4; cause = cause.cause, depth++) if (cause instanceof ProviderFailure) return cause;
  // For the log, cut short: a provider's validation error quotes the vendor's whole event back.
  const details = { name: (error as Error)?.name, message: cutText(String((error as Error)?.message), 2_000) };
  if (APICallError.isInstance(error)) {
    const detail = error.message && error.message.length <= 200 ? `: ${error.message}` : '';
    const description = error.statusCode
      ? `The model provider answered with an error (HTTP ${error.statusCode})${detail}`
      : `The model provider could not be reached${detail}`;
    return new ProviderFailure(description, { ...details, statusCode: error.statusCode, url: error.url }, error.statusCode ? 'http' : 'connection');
  }
  if (error instanceof Error && error.name === 'AI_InvalidPromptError') return new ProviderFailure('The conversation could not be put into a request for the model.', details, 'invalid_prompt');
  return new ProviderFailure('The connection to the model provider failed before the reply was complete.', details);
}
