// builtin:echo: a local, deterministic model for development and tests. It replies with the last user
// message, piece by piece at a set pace, and reports token usage counted with the real tokenizer. It also
// plays an agent, so a client can try the tool loop with no provider:
// - `/call NAME {json}` on a turn that offers the tool NAME: one call to it with that JSON (`{}` when none),
//   its arguments streamed in pieces; `Unknown tool NAME` when the turn does not offer it;
// - a turn whose last messages are tool results: `NAME returned: CONTENT`, a line per result, in order;
// - `/think TEXT`: the reasoning `Thinking about: TEXT` first, then TEXT.
import { randomUUID } from 'node:crypto';
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3FinishReason, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { countTokens } from '../tokens.ts';

type Prompt = LanguageModelV3CallOptions['prompt'];

/** Words with their trailing space, or runs of space: the reply's deltas. */
export function echoPieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** Arguments stream in pieces of this many characters. */
const ARGUMENT_PIECE = 8;

/** What echo answers: text, reasoning before it, or a tool call. */
type EchoReply = { text: string; reasoning?: string; call?: { name: string; arguments: string } };

export function echoReplyTo(prompt: Prompt, offered: ReadonlySet<string> = new Set()): EchoReply {
  const results = trailingToolResults(prompt);
  if (results.length) return { text: results.map(({ name, content }) => `${name} returned: ${content}`).join('\n') };
  const lastUser = prompt.findLast((message) => message.role === 'user');
  const text = lastUser ? lastUser.content.map((part) => (part.type === 'text' ? part.text : '')).join('') : '';
  const call = /^\/call\s+([A-Za-z0-9_-]+)\s*([\s\S]*)$/.exec(text.trim());
  if (call) {
    const [, name, json] = call;
    return offered.has(name) ? { text: '', call: { name, arguments: json.trim() || '{}' } } : { text: `Unknown tool ${name}` };
  }
  const think = /^\/think\s+([\s\S]*)$/.exec(text.trim());
  if (think) return { text: think[1], reasoning: `Thinking about: ${think[1]}` };
  return { text };
}

/** The tool results after the last assistant message: what a turn after submitToolResults answers. */
function trailingToolResults(prompt: Prompt): { name: string; content: string }[] {
  const results: { name: string; content: string }[] = [];
  for (let i = prompt.length - 1; i >= 0 && prompt[i].role === 'tool'; i--) {
    const message = prompt[i];
    if (message.role !== 'tool') break;
    const parts = message.content.flatMap((part) => (part.type === 'tool-result' ? [part] : []));
    results.unshift(...parts.map((part) => ({ name: part.toolName, content: 'value' in part.output ? String(part.output.value) : '' })));
  }
  return results;
}

async function promptTokens(prompt: Prompt): Promise<number> {
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

function piecesOf(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

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
      const offered = new Set(options.toolChoice?.type === 'none' ? [] : (options.tools ?? []).map((tool) => tool.name));
      const reply = echoReplyTo(options.prompt, offered);
      const usage = {
        inputTokens: { total: await promptTokens(options.prompt), noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: {
          total: (await countTokens(reply.text)) + (await countTokens(reply.reasoning ?? '')) + (await countTokens(reply.call?.arguments ?? '')),
          text: undefined,
          reasoning: reply.reasoning ? await countTokens(reply.reasoning) : undefined,
        },
      };
      const finishReason: LanguageModelV3FinishReason = reply.call ? { unified: 'tool-calls', raw: 'tool_calls' } : { unified: 'stop', raw: 'stop' };
      const stream = new ReadableStream<LanguageModelV3StreamPart>({
        async start(controller) {
          const pace = async () => {
            if (delayMs > 0) await sleep(delayMs, options.abortSignal);
            else if (options.abortSignal?.aborted) throw options.abortSignal.reason;
          };
          try {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            if (reply.reasoning) {
              controller.enqueue({ type: 'reasoning-start', id: 'think' });
              for (const piece of echoPieces(reply.reasoning)) {
                await pace();
                controller.enqueue({ type: 'reasoning-delta', id: 'think', delta: piece });
              }
              controller.enqueue({ type: 'reasoning-end', id: 'think' });
            }
            if (reply.text) {
              controller.enqueue({ type: 'text-start', id: 'echo' });
              for (const piece of echoPieces(reply.text)) {
                await pace();
                controller.enqueue({ type: 'text-delta', id: 'echo', delta: piece });
              }
              controller.enqueue({ type: 'text-end', id: 'echo' });
            }
            if (reply.call) {
              const id = `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
              controller.enqueue({ type: 'tool-input-start', id, toolName: reply.call.name });
              for (const piece of piecesOf(reply.call.arguments, ARGUMENT_PIECE)) {
                await pace();
                controller.enqueue({ type: 'tool-input-delta', id, delta: piece });
              }
              controller.enqueue({ type: 'tool-input-end', id });
              controller.enqueue({ type: 'tool-call', toolCallId: id, toolName: reply.call.name, input: reply.call.arguments });
            }
            controller.enqueue({ type: 'finish', usage, finishReason });
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
