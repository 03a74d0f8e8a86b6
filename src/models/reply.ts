// A model's streamed reply, reduced to what this server keeps: text and token usage. Read the same way
// on the provider thread and, with that thread off, on the main one.
import { APICallError, type LanguageModelV3, type LanguageModelV3Prompt, type LanguageModelV3StreamPart } from '@ai-sdk/provider';

export type Usage = { inputTokens: number | undefined; outputTokens: number | undefined };

/** Text that arrived together (several provider chunks when the reader fell behind), and usage once known. */
export type ReplyChunk = { text: string; usage?: Usage };

/** The provider failed: `description` is fit for a user; `details` are for the log. */
export class ProviderFailure extends Error {
  constructor(
    readonly description: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(description);
    this.name = 'ProviderFailure';
  }
}

/**
 * The reply's text and usage, as chunks. Parts already queued behind the first are merged into one chunk,
 * so a reader that falls behind catches up in a few large steps rather than many small ones. A provider
 * error ends it with a ProviderFailure, after any text that came before the error.
 */
export async function* readReply(model: LanguageModelV3, prompt: LanguageModelV3Prompt, abortSignal: AbortSignal): AsyncGenerator<ReplyChunk> {
  let reader: ReadableStreamDefaultReader<LanguageModelV3StreamPart> | undefined;
  try {
    reader = (await model.doStream({ prompt, abortSignal })).stream.getReader();
    for await (const parts of queuedTogether(reader)) {
      const chunk: ReplyChunk = { text: '' };
      let failure: unknown;
      for (const part of parts) {
        if (part.type === 'text-delta') chunk.text += part.delta;
        else if (part.type === 'finish') chunk.usage = { inputTokens: part.usage.inputTokens.total, outputTokens: part.usage.outputTokens.total };
        else if (part.type === 'error') {
          failure = part.error;
          break;
        }
      }
      if (chunk.text || chunk.usage) yield chunk; // text before an error in the same group is part of the reply
      if (failure !== undefined) throw failure;
    }
  } catch (error) {
    if (abortSignal.aborted) throw abortSignal.reason;
    throw toProviderFailure(error);
  } finally {
    reader?.cancel().catch(() => {}); // after an error part, close the upstream response too
  }
}

/**
 * The stream's parts, grouped: each group is one part plus every part already queued behind it.
 */
async function* queuedTogether<T>(reader: ReadableStreamDefaultReader<T>): AsyncGenerator<T[]> {
  const nothingQueued = Symbol('nothing queued');
  let next: Promise<ReadableStreamReadResult<T>> | null = null;
  for (;;) {
    const first = await (next ?? reader.read());
    next = null;
    if (first.done) return;
    const group = [first.value];
    let ended = false;
    for (;;) {
      next = reader.read();
      // A part already queued resolves within microtasks; an empty queue loses to setImmediate.
      const more = await Promise.race([next, new Promise<typeof nothingQueued>((resolve) => setImmediate(resolve, nothingQueued))]);
      if (more === nothingQueued) break; // keep `next` for the following round
      next = null;
      if (more.done) {
        ended = true;
        break;
      }
      group.push(more.value);
    }
    yield group;
    if (ended) return;
  }
}

/** Words fit for a user, and the details for the log. */
export function toProviderFailure(error: unknown): ProviderFailure {
  if (error instanceof ProviderFailure) return error;
  const details = { name: (error as Error)?.name, message: (error as Error)?.message };
  if (APICallError.isInstance(error)) {
    const detail = error.message && error.message.length <= 200 ? `: ${error.message}` : '';
    const description = error.statusCode
      ? `The model provider answered with an error (HTTP ${error.statusCode})${detail}`
      : `The model provider could not be reached${detail}`;
    return new ProviderFailure(description, { ...details, statusCode: error.statusCode, url: error.url });
  }
  if (error instanceof Error && error.name === 'AI_InvalidPromptError') return new ProviderFailure('The conversation could not be put into a request for the model.', details);
  return new ProviderFailure('The connection to the model provider failed before the reply was complete.', details);
}
