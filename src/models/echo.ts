// builtin:echo: a local, deterministic model for development and tests. It replies with the last user
// message, piece by piece at a set pace, and reports token usage counted with the real tokenizer.
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { countTokens } from '../tokens.ts';

/** Words with their trailing space, or runs of space: the reply's deltas. */
export function echoPieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

export function echoReplyTo(prompt: LanguageModelV3CallOptions['prompt']): string {
  const lastUser = prompt.findLast((message) => message.role === 'user');
  if (!lastUser) return '';
  return lastUser.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

async function promptTokens(prompt: LanguageModelV3CallOptions['prompt']): Promise<number> {
  let sum = 0;
  for (const message of prompt) {
    if (typeof message.content === 'string') sum += await countTokens(message.content);
    else for (const part of message.content) if ('text' in part && typeof part.text === 'string') sum += await countTokens(part.text);
  }
  return sum;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => (signal?.removeEventListener('abort', onAbort), resolve()), ms);
    const onAbort = () => (clearTimeout(timer), reject(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function createEchoModel({ delayMs }: { delayMs: number }): LanguageModelV3 {
  return {
    specificationVersion: 'v3',
    provider: 'builtin',
    modelId: 'echo',
    supportedUrls: {},
    async doGenerate() {
      throw new Error('builtin:echo only streams');
    },
    async doStream(options) {
      const reply = echoReplyTo(options.prompt);
      const usage = {
        inputTokens: { total: await promptTokens(options.prompt), noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: await countTokens(reply), text: undefined, reasoning: undefined },
      };
      const stream = new ReadableStream<LanguageModelV3StreamPart>({
        async start(controller) {
          try {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            controller.enqueue({ type: 'text-start', id: 'echo' });
            for (const piece of echoPieces(reply)) {
              if (delayMs > 0) await sleep(delayMs, options.abortSignal);
              else if (options.abortSignal?.aborted) throw options.abortSignal.reason;
              controller.enqueue({ type: 'text-delta', id: 'echo', delta: piece });
            }
            controller.enqueue({ type: 'text-end', id: 'echo' });
            controller.enqueue({ type: 'finish', usage, finishReason: { unified: 'stop', raw: 'stop' } });
            controller.close();
          } catch (error) {
            controller.error(error);
          }
        },
      });
      return { stream };
    },
  };
}
