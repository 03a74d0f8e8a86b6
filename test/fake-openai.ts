// A real HTTP server that speaks OpenAI's Chat Completions streaming wire format (SSE chunks, a usage chunk,
// [DONE]), scripted per model name: normal replies, HTTP errors, a stream that breaks or hangs mid-way.
// It records each request and whether the client closed the connection before the reply ended.
import type http from 'node:http';
import { gzipSync } from 'node:zlib';
import { startVendorServer, type VendorServer } from './vendor-server.ts';

export type Script = {
  tokens?: string[];
  /** Pause before each token; tokens keep to this pace (token i is due (i + 1) × delayMs after the start). */
  delayMs?: number;
  /** Shifts the whole schedule by this much: benchmarks spread their streams' tokens over the interval. */
  phaseMs?: number;
  usage?: { prompt: number; completion: number };
  /** Answer with this HTTP status and an OpenAI error body instead of a stream. */
  status?: number;
  /** After this many tokens, destroy the connection. */
  breakAfter?: number;
  /** After this many tokens, send nothing more and keep the connection open. */
  hangAfter?: number;
  /** After this many tokens (written in the same chunk as them), an error event instead of the rest. */
  errorAfter?: number;
  /** Wait for this before the first token (benchmarks start every stream at once). */
  startAfter?: Promise<unknown>;
  /** Called as each token is written (benchmarks time tokens from here). */
  onToken?: (index: number, token: string) => void;
  /** Pieces of `reasoning_content` before the text, as OpenAI-compatible servers (vLLM, DeepSeek) stream it. */
  reasoning?: string[];
  /** Tool calls after the text, each streamed as its id and name, then its arguments in pieces. */
  toolCalls?: { id: string; name: string; arguments: string[] }[];
  /** An error event right after the first piece of the first tool call's arguments. */
  errorInToolCall?: boolean;
  /** After the first chunk, an event of this many bytes that never ends (no blank line), in 64 KiB writes; then silence. */
  unterminated?: number;
  /** Answer gzip-compressed, whatever the request accepts. */
  gzip?: boolean;
  /** With `status`: an error body of this many bytes, cut into short lines and blank lines. */
  errorBodyBytes?: number;
  /** After the first chunk, pieces of a tool call's arguments that never get its name or id, 512 KiB each, up to this many bytes. */
  namelessArgumentsBytes?: number;
  /** After the first chunk, one chunk that is not of the format: `tool_calls` as this many empty objects. */
  malformedToolCalls?: number;
  /** After the tokens, end the answer cleanly with no finish_reason and no [DONE]: a stream cut short. */
  endWithoutFinish?: boolean;
  /** After the first chunk, chunks whose delta holds no output, about 100 bytes each, up to this many bytes; then the tokens. */
  emptyDeltasBytes?: number;
};

/** A script, or one made per request from its body (to tell concurrent requests apart). */
export type ScriptFor = Script | ((body: any) => Script);

export type FakeOpenAI = VendorServer & { script(model: string, script: ScriptFor): void };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until the response can take more, or is gone; the listener that did not fire is removed. */
function drainOrClose(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => (res.off('drain', done), res.off('close', done), resolve());
    res.on('drain', done).on('close', done);
  });
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const scripts = new Map<string, ScriptFor>();

  const server = await startVendorServer(async (_req, res, body) => {
    const scripted = scripts.get(body.model) ?? { tokens: ['ok'] };
    const script = typeof scripted === 'function' ? scripted(body) : scripted;

    if (script.status && script.errorBodyBytes) {
      res.writeHead(script.status, { 'content-type': 'text/plain' });
      for (let sent = 0; sent < script.errorBodyBytes && !res.destroyed; sent += 65_536) {
        if (!res.write('xxxxxxxxxxxxxx\n\n'.repeat(4_096))) await drainOrClose(res);
      }
      return void res.end();
    }
    if (script.status) {
      res.writeHead(script.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null } }));
      return;
    }
    if (script.gzip) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      return void res.end(gzipSync(`data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta: { content: 'zipped' }, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (delta: object, finishReason: string | null = null) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }));
    await script.startAfter;
    if (script.malformedToolCalls) {
      res.write(chunk({ tool_calls: Array.from({ length: script.malformedToolCalls }, () => ({})) }));
      return void res.end(chunk({}, 'stop'));
    }
    if (script.emptyDeltasBytes) {
      const empty = chunk({ content: '' });
      for (let sent = 0; sent < script.emptyDeltasBytes && !res.destroyed; sent += empty.length) {
        if (!res.write(empty)) await drainOrClose(res);
      }
    }
    if (script.namelessArgumentsBytes) {
      const piece = chunk({ tool_calls: [{ index: 0, function: { arguments: 'x'.repeat(512 << 10) } }] });
      for (let sent = 0; sent < script.namelessArgumentsBytes && !res.destroyed; sent += piece.length) {
        if (!res.write(piece)) await drainOrClose(res);
      }
      return void res.end();
    }
    if (script.unterminated) {
      res.write('data: {"choices":[{"index":0,"delta":{"content":"');
      for (let sent = 0; sent < script.unterminated && !res.destroyed; sent += 65_536) {
        if (!res.write('x'.repeat(65_536))) await drainOrClose(res);
      }
      return; // the connection stays open, silent
    }
    const tokens = script.tokens ?? [];
    const startedAt = performance.now() + (script.phaseMs ?? 0);
    if (script.errorAfter !== undefined) {
      // One write: the tokens and then the error reach the client together.
      const head = tokens.slice(0, script.errorAfter).map((token) => chunk({ content: token })).join('');
      return void res.end(`${head}data: ${JSON.stringify({ error: { message: 'The model is overloaded.', type: 'server_error', code: 'overloaded' } })}\n\n`);
    }
    for (const piece of script.reasoning ?? []) res.write(chunk({ reasoning_content: piece }));
    for (const [i, token] of tokens.entries()) {
      if (res.destroyed) return;
      if (script.breakAfter === i) {
        await sleep(50); // let what was written reach the client, then cut the connection mid-reply
        return void res.socket?.destroy();
      }
      if (script.hangAfter === i) return; // leave the connection open, silent
      if (script.delayMs) await sleep(startedAt + (i + 1) * script.delayMs - performance.now());
      res.write(chunk({ content: token }));
      script.onToken?.(i, token);
    }
    if (script.endWithoutFinish) return void res.end();
    for (const [index, call] of (script.toolCalls ?? []).entries()) {
      res.write(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
      for (const piece of call.arguments) {
        res.write(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
        if (script.errorInToolCall) {
          return void res.end(`data: ${JSON.stringify({ error: { message: 'The model is overloaded.', type: 'server_error', code: 'overloaded' } })}\n\n`);
        }
        if (script.delayMs) await sleep(script.delayMs);
      }
    }
    res.write(chunk({}, script.toolCalls?.length ? 'tool_calls' : 'stop'));
    if (body.stream_options?.include_usage) {
      const usage = script.usage ?? { prompt: 10, completion: tokens.length };
      res.write(`data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion } })}\n\n`);
    }
    res.write('data: [DONE]\n\n');
    res.end();
  });

  return { ...server, script: (model, script) => void scripts.set(model, script) };
}
