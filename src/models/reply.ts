// A model's streamed reply, reduced to what this server keeps: text and token usage. Read the same way
// on a provider thread and, with no provider thread, on the main one.
import { APICallError, type LanguageModelV3, type LanguageModelV3Prompt, type LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { reportedCount } from '../validation.ts';

export type Usage = { inputTokens: number | undefined; outputTokens: number | undefined };

/** Text of the reply as it arrives, and token usage once known (at the end). */
export type ReplyChunk = { text: string; usage?: Usage };

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
 * The reply's text and usage, a chunk per provider part. A provider error ends it with a ProviderFailure,
 * after any text that came before the error.
 */
export async function* readReply(model: LanguageModelV3 | Promise<LanguageModelV3>, prompt: LanguageModelV3Prompt, abortSignal: AbortSignal): AsyncGenerator<ReplyChunk> {
  let reader: ReadableStreamDefaultReader<LanguageModelV3StreamPart> | undefined;
  try {
    reader = (await (await model).doStream({ prompt, abortSignal })).stream.getReader();
    for (;;) {
      const { done, value: part } = await reader.read();
      if (done) return;
      if (part.type === 'text-delta') {
        if (part.delta) yield { text: storable(part.delta) };
      } else if (part.type === 'finish') {
        yield { text: '', usage: { inputTokens: reportedCount(part.usage.inputTokens.total), outputTokens: reportedCount(part.usage.outputTokens.total) } };
      } else if (part.type === 'error') throw part.error;
    }
  } catch (error) {
    if (abortSignal.aborted) throw abortSignal.reason;
    throw toProviderFailure(error);
  } finally {
    reader?.cancel().catch(() => {}); // after an error part, close the upstream response too
  }
}

/** PostgreSQL text cannot hold NUL: a provider that sends one gets the replacement character in its place. */
const storable = (text: string) => (text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text);

/** Words fit for a user, and the details for the log. */
export function toProviderFailure(error: unknown): ProviderFailure {
  if (error instanceof ProviderFailure) return error;
  const details = { name: (error as Error)?.name, message: (error as Error)?.message };
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
