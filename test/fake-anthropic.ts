// A real HTTP server that speaks Anthropic's Messages streaming wire format (named SSE events:
// message_start, content_block_delta, message_delta, message_stop, error), scripted per model name.
// It records each request with its headers, and whether the client closed the connection early.
import { startVendorServer, type VendorServer } from './vendor-server.ts';

export type AnthropicScript = {
  tokens?: string[];
  /** Pause before each token. */
  delayMs?: number;
  usage?: { input: number; output: number };
  /** Answer with this HTTP status and an Anthropic error body instead of a stream. */
  status?: number;
  /** After this many tokens, an `error` event (overloaded) instead of the rest. */
  errorAfter?: number;
  /** After this many tokens, send nothing more and keep the connection open. */
  hangAfter?: number;
  /** A thinking block first: its text in pieces, then its signature. */
  thinking?: { text: string[]; signature: string };
  /** tool_use blocks after the text, their input JSON in pieces. */
  toolUses?: { id: string; name: string; input: string[] }[];
  /** An error event right after the first piece of the first tool_use's input. */
  errorInToolUse?: boolean;
  /** End the answer after the text, cleanly, without message_delta and message_stop. */
  endWithoutStop?: boolean;
  /** Answer 200 with a JSON body (a whole message), not a stream. */
  notAStream?: boolean;
};

export type FakeAnthropic = VendorServer & { script(model: string, script: AnthropicScript): void };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const scripts = new Map<string, AnthropicScript>();

  const server = await startVendorServer(async (req, res, body) => {
    const script = scripts.get(body.model) ?? { tokens: ['ok'] };

    if (req.url !== '/v1/messages' || script.status) {
      res.writeHead(script.status ?? 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'Internal server error' } }));
      return;
    }
    const tokens = script.tokens ?? [];
    const usage = script.usage ?? { input: 10, output: tokens.length };
    if (script.notAStream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const content = [{ type: 'text', text: tokens.join('') }];
      res.end(JSON.stringify({ id: 'msg_fake', type: 'message', role: 'assistant', model: body.model, content, stop_reason: 'end_turn', usage: { input_tokens: usage.input, output_tokens: usage.output } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(
      event('message_start', {
        message: { id: 'msg_fake', type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: 1 } },
      }),
    );
    let index = 0;
    if (script.thinking) {
      res.write(event('content_block_start', { index, content_block: { type: 'thinking', thinking: '' } }));
      for (const piece of script.thinking.text) res.write(event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: piece } }));
      res.write(event('content_block_delta', { index, delta: { type: 'signature_delta', signature: script.thinking.signature } }));
      res.write(event('content_block_stop', { index }));
      index += 1;
    }
    const text = index;
    res.write(event('content_block_start', { index: text, content_block: { type: 'text', text: '' } }));
    res.write(event('ping', {}));
    for (const [i, token] of tokens.entries()) {
      if (res.destroyed) return;
      if (script.errorAfter === i) {
        return void res.end(event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
      }
      if (script.hangAfter === i) return; // leave the connection open, silent
      if (script.delayMs) await sleep(script.delayMs);
      res.write(event('content_block_delta', { index: text, delta: { type: 'text_delta', text: token } }));
    }
    res.write(event('content_block_stop', { index: text }));
    if (script.endWithoutStop) return void res.end();
    for (const use of script.toolUses ?? []) {
      index += 1;
      res.write(event('content_block_start', { index, content_block: { type: 'tool_use', id: use.id, name: use.name, input: {} } }));
      for (const piece of use.input) {
        res.write(event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }));
        if (script.errorInToolUse) return void res.end(event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
        if (script.delayMs) await sleep(script.delayMs);
      }
      res.write(event('content_block_stop', { index }));
    }
    const stopReason = script.toolUses?.length ? 'tool_use' : 'end_turn';
    res.write(event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output } }));
    res.write(event('message_stop', {}));
    res.end();
  });

  return { ...server, script: (model, script) => void scripts.set(model, script) };
}
