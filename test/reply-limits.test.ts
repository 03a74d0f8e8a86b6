// A reply cannot grow or last without end: a model that never stops (a loop, a stream that trickles) is cut
// at REPLY_MAX_CHARS, COMPLETED with finishReason LENGTH, and failed after REPLY_MAX_SECONDS, so that it
// does not stay STREAMING for as long as the vendor keeps sending.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, startTestApp, waitForMessage, type TestApp, type TestViewer } from './helpers.ts';
import { AssembledReply } from '../src/generation/assembled-reply.ts';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { MAX_TOOL_CALLS_PER_REPLY, readReply, type ReplyPart } from '../src/models/reply.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';
import { createLogger } from '../src/logger.ts';

let t: TestApp;
let viewer: TestViewer;
beforeAll(async () => {
  // builtin:echo streams the user's words back, one every ECHO_DELAY_MS.
  t = await startTestApp({ ECHO_DELAY_MS: '20', REPLY_MAX_CHARS: '60' });
  viewer = await t.viewer();
});
afterAll(() => t.close());

const SEND = `mutation($c: ID!, $text: String!) { sendMessage(input: { conversationId: $c, content: $text }) { assistantMessage { id } } }`;
const MESSAGE = `query($id: ID!) { node(id: $id) { ... on Message { status content finishReason error } } }`;
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

async function reply(text: string, { app = t, owner = viewer, model = 'builtin:echo' } = {}) {
  const c = await createConversation(app, owner, { model });
  const { sendMessage } = await app.gql(SEND, { c: c.id, text }, owner);
  const id = sendMessage.assistantMessage.id;
  await waitForMessage((q, v) => app.gql(q, v, owner), id, (node) => node.status !== 'STREAMING', 'to end', 15_000);
  return (await app.gql(MESSAGE, { id }, owner)).node;
}

it('is cut at REPLY_MAX_CHARS, as a model that reached its own limit: COMPLETED, LENGTH', async () => {
  const cut = await reply(words(30)); // some 200 characters, echoed in 0.6 s
  expect(cut).toMatchObject({ status: 'COMPLETED', finishReason: 'LENGTH', error: null });
  expect(cut.content).toBe(words(30).slice(0, 60)); // the word that reached the limit cut where it did
  const whole = await reply(words(3));
  expect(whole).toMatchObject({ status: 'COMPLETED', finishReason: 'STOP', content: words(3) });
});

it('fails after REPLY_MAX_SECONDS, with what it had streamed', async () => {
  const slow = await startTestApp({ ECHO_DELAY_MS: '200', REPLY_MAX_SECONDS: '1' });
  try {
    const owner = await slow.viewer();
    const c = await createConversation(slow, owner, { model: 'builtin:echo' });
    const { sendMessage } = await slow.gql(SEND, { c: c.id, text: 'a '.repeat(50) }, owner); // 10 s of words
    const id = sendMessage.assistantMessage.id;
    await waitForMessage((q, v) => slow.gql(q, v, owner), id, (node) => node.status !== 'STREAMING', 'to end', 5_000);
    const { node } = await slow.gql(MESSAGE, { id }, owner);
    expect(node).toMatchObject({ status: 'FAILED', finishReason: 'ERROR', error: 'The reply was still streaming after 1 seconds.' });
    expect(node.content.length).toBeGreaterThan(0);
  } finally {
    await slow.close();
  }
});

it("counts what a reply holds toward REPLY_MAX_CHARS: text, reasoning, and tool calls' arguments (streamed or sent whole), ids and names", () => {
  const reply = new AssembledReply({ maxChars: 1_000 });
  reply.add({ kind: 'text', text: 'abc' });
  reply.add({ kind: 'reasoning', block: 'r', text: 'de' });
  reply.add({ kind: 'toolInput', id: 'streamed', name: 'f', delta: '{"a":' });
  reply.add({ kind: 'toolInput', id: 'streamed', name: 'f', delta: '1}' });
  reply.add({ kind: 'toolCall', id: 'streamed', name: 'f', arguments: '{"a":1}' }); // its pieces counted it already
  expect(reply.characters).toBe(3 + 2 + 'streamedf'.length + 7);
  reply.add({ kind: 'toolCall', id: 'whole', name: 'g', arguments: '{"b":22}' }); // sent whole, without pieces
  expect(reply.characters).toBe(3 + 2 + 'streamedf'.length + 7 + 'wholeg'.length + 8);
  reply.add({ kind: 'reasoning', block: 's', text: '', metadata: { p: { signature: 'sig' } } });
  expect(reply.characters).toBe(3 + 2 + 'streamedf'.length + 7 + 'wholeg'.length + 8 + JSON.stringify({ p: { signature: 'sig' } }).length);
  expect(reply.full).toBe(false);
});

describe('a part larger than the room left', () => {
  it('is taken up to the limit, never between the halves of a character', () => {
    const reply = new AssembledReply({ maxChars: 10 });
    expect(reply.add({ kind: 'text', text: 'x'.repeat(5) })).toEqual({ type: 'delta', delta: 'xxxxx' });
    expect(reply.add({ kind: 'text', text: 'yyyy😀z'.repeat(1_000) })).toEqual({ type: 'delta', delta: 'yyyy' }); // 😀 would end at 11
    expect(reply).toMatchObject({ full: true, content: 'xxxxxyyyy' });
    expect(reply.add({ kind: 'text', text: 'more' })).toBeNull();
  });

  it('a tool call whose arguments do not fit is left out whole', () => {
    const big = new AssembledReply({ maxChars: 20 });
    expect(big.add({ kind: 'toolCall', id: 'c1', name: 'f', arguments: '{"a":"' + 'x'.repeat(100) + '"}' })).toBeNull();
    expect(big).toMatchObject({ full: true, toolCalls: [] });
    const exact = new AssembledReply({ maxChars: 5 });
    expect(exact.add({ kind: 'toolCall', id: 'c1', name: 'f', arguments: '{}' })).not.toBeNull(); // fits to the character
    expect(exact).toMatchObject({ full: true, toolCalls: [{ id: 'c1' }] });
  });

  it('a long call streamed in small pieces counts its id and name once', () => {
    const reply = new AssembledReply({ maxChars: 60_000 });
    const args = JSON.stringify({ text: 'x'.repeat(50_000) });
    for (let at = 0; at < args.length; at += 4) reply.add({ kind: 'toolInput', id: 'call_abcdefghijklmnop', name: 'write_file', delta: args.slice(at, at + 4) });
    reply.add({ kind: 'toolCall', id: 'call_abcdefghijklmnop', name: 'write_file', arguments: args });
    expect(reply).toMatchObject({ full: false, characters: args.length + 'call_abcdefghijklmnopwrite_file'.length });
    expect(reply.toolCalls).toHaveLength(1);
  });
});

describe('what a vendor sends is bounded', () => {
  let vendor: FakeOpenAI;
  let app: TestApp;
  let owner: TestViewer;
  beforeAll(async () => {
    vendor = await startFakeOpenAI();
    app = await startTestApp({
      OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
      OPENAI_COMPATIBLE_NAME: 'fake',
      OPENAI_COMPATIBLE_MODELS: 'm',
      // The OpenAI provider package too, pointed at the same wire-format server.
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: vendor.baseURL,
      OPENAI_MODELS: 'm',
      REPLY_MAX_CHARS: '5000',
      PROVIDER_TIMEOUT_MS: '10000',
    });
    owner = await app.viewer();
  });
  afterAll(async () => {
    await app?.close();
    await vendor?.close();
  });
  const ask = () => reply('go', { app, owner, model: 'fake:m' });

  it.each(['fake:m', 'openai:m'])('a stream that ends before the vendor says why (%s) fails the reply, keeping its text', async (model) => {
    vendor.script('m', { tokens: ['cut ', 'short'], endWithoutFinish: true });
    expect(await reply('go', { app, owner, model })).toMatchObject({ status: 'FAILED', content: 'cut short' });
  });

  it('a chunk of many times REPLY_MAX_CHARS is cut to it', async () => {
    vendor.script('m', { tokens: ['ab', 'c'.repeat(200_000)] });
    expect(await ask()).toMatchObject({ status: 'COMPLETED', finishReason: 'LENGTH', content: 'ab' + 'c'.repeat(4_998) });
  });

  it('an event that never ends fails the reply once it is larger than any reply could use, long before the provider timeout', async () => {
    vendor.script('m', { unterminated: 3 << 20 }); // REPLY_MAX_CHARS 5000: events up to 1 MiB
    expect(await ask()).toMatchObject({ status: 'FAILED', error: 'The model provider sent an event larger than 1048576 bytes; the reply was stopped.' });
    vendor.script('m', { tokens: ['fine'] });
    expect(await ask()).toMatchObject({ status: 'COMPLETED', content: 'fine' }); // and the next reply is read as ever
  });

  it('asks for an answer that is not compressed (its events are counted as they come), and fails one compressed all the same', async () => {
    vendor.script('m', { tokens: ['plain'] });
    expect(await ask()).toMatchObject({ status: 'COMPLETED', content: 'plain' });
    expect(vendor.requests.at(-1)!.headers['accept-encoding']).toBe('identity');
    vendor.script('m', { gzip: true });
    expect(await ask()).toMatchObject({ status: 'FAILED', error: 'The model provider sent a compressed answer, which was not asked for; the reply was stopped.' });
  });

  it("a tool call with an id or name longer than any model's fails the reply", async () => {
    vendor.script('m', { tokens: ['calling'], toolCalls: [{ id: 'call_1', name: 'f'.repeat(300), arguments: ['{}'] }] });
    expect(await ask()).toMatchObject({ status: 'FAILED', error: 'The model provider sent a tool call whose id or name is longer than 256 characters.', content: 'calling' });
  });

  it(`a reply of more than ${MAX_TOOL_CALLS_PER_REPLY} tool calls fails as the first call too many begins`, async () => {
    vendor.script('m', { tokens: ['calling'], toolCalls: Array.from({ length: 200 }, (_, i) => ({ id: `c${i}`, name: 'f', arguments: [''] })) });
    expect(await ask()).toMatchObject({ status: 'FAILED', error: `The model provider sent more than ${MAX_TOOL_CALLS_PER_REPLY} tool calls in one reply.`, content: 'calling' });
  });

  it('an error whose body is larger than any event fails the reply once it is, however it is cut into lines', async () => {
    vendor.script('m', { status: 500, errorBodyBytes: 3 << 20 });
    expect(await ask()).toMatchObject({ status: 'FAILED', error: 'The model provider sent an answer larger than 1048576 bytes; the reply was stopped.' });
  });

  it("what comes before a provider hands its stream over (which OpenAI's keeps until the first output) is at most twice the largest event", async () => {
    vendor.script('m', { emptyDeltasBytes: 4 << 20, tokens: ['late'] }); // events up to 1 MiB
    expect(await reply('go', { app, owner, model: 'openai:m' })).toMatchObject({ status: 'FAILED', error: `The model provider sent more than ${2 << 20} bytes before any of the reply; the reply was stopped.` });
    // A provider that hands its stream over at once keeps none of it: the same answer is read to its end.
    expect(await ask()).toMatchObject({ status: 'COMPLETED', content: 'late' });
    vendor.script('m', { emptyDeltasBytes: 1 << 20, tokens: ['in time'] });
    expect(await reply('go', { app, owner, model: 'openai:m' })).toMatchObject({ status: 'COMPLETED', content: 'in time' });
  }, 30_000);

  it("a stream larger than 64 times its largest event fails the reply (what a provider gathers before it emits, a call's arguments before its name, say)", async () => {
    vendor.script('m', { namelessArgumentsBytes: 80 << 20 }); // events of 512 KiB, within the 1 MiB limit
    expect(await ask()).toMatchObject({ status: 'FAILED', error: `The model provider sent an answer larger than ${64 << 20} bytes; the reply was stopped.` });
  }, 30_000);
});

describe("what a vendor's answer may put in the log", () => {
  it('an event the provider refuses fails the reply with a log line of a few kilobytes, however large the event and its faults', async () => {
    const vendor = await startFakeOpenAI();
    const lines: string[] = [];
    const app = await startTestApp(
      { OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL, OPENAI_COMPATIBLE_NAME: 'fake', OPENAI_COMPATIBLE_MODELS: 'm', PROVIDER_TIMEOUT_MS: '10000' },
      { log: createLogger({ logLevel: 'info' }, { write: (line: string) => void lines.push(line) }) },
    );
    try {
      // 100,000 tool calls of no shape: the provider's error quotes them all, with a fault for each, pretty-printed.
      vendor.script('m', { malformedToolCalls: 100_000 });
      expect(await reply('go', { app, owner: await app.viewer(), model: 'fake:m' })).toMatchObject({ status: 'FAILED' });
      const failed = lines.find((line) => line.includes('provider failed'));
      expect(failed).toBeDefined();
      expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(64 * 1024);
    } finally {
      await app.close();
      await vendor.close();
    }
  }, 30_000);
});

describe("readReply: what a provider's stream may hold", () => {
  /** A model whose stream is these parts, as a provider package would emit them. */
  const scripted = (parts: object[]) =>
    ({
      specificationVersion: 'v3',
      provider: 'scripted',
      modelId: 'scripted',
      supportedUrls: {},
      doGenerate: () => Promise.reject(new Error('not used')),
      doStream: async () => ({ stream: new ReadableStream({ start: (controller) => (parts.forEach((part) => controller.enqueue(part)), controller.close()) }) }),
    }) as unknown as LanguageModelV3;
  const finish = { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: {}, outputTokens: {} } };
  const read = async (parts: object[]) => {
    const got: ReplyPart[] = [];
    try {
      for await (const part of readReply(scripted(parts), { prompt: [] }, new AbortController().signal)) got.push(part);
      return { got };
    } catch (error) {
      return { got, error: (error as Error).message };
    }
  };
  const whole = (id: string) => ({ type: 'tool-call', toolCallId: id, toolName: 'f', input: '{}' });

  it('a call sent whole twice with one id fails the reply at the second', async () => {
    const { got, error } = await read([whole('a'), whole('b'), whole('a'), finish]);
    expect(got.map((part) => part.kind)).toEqual(['toolCall', 'toolCall']);
    expect(error).toBe('The model provider sent two tool calls with one id in one reply.');
  });

  it(`pieces of calls that never began count toward the ${MAX_TOOL_CALLS_PER_REPLY} calls`, async () => {
    const pieces = Array.from({ length: MAX_TOOL_CALLS_PER_REPLY + 1 }, (_, i) => ({ type: 'tool-input-delta', id: `c${i}`, delta: '{' }));
    const { got, error } = await read([...pieces, finish]);
    expect(got).toHaveLength(MAX_TOOL_CALLS_PER_REPLY);
    expect(error).toBe(`The model provider sent more than ${MAX_TOOL_CALLS_PER_REPLY} tool calls in one reply.`);
  });

  it('a stream that ends without a finish fails the reply, after what it sent', async () => {
    expect(await read([{ type: 'text-delta', id: 't', delta: 'cut' }])).toEqual({ got: [{ kind: 'text', text: 'cut' }], error: "The model provider's answer ended before the reply did." });
    expect((await read([{ type: 'text-delta', id: 't', delta: 'whole' }, finish])).error).toBeUndefined();
    // OpenAI's provider finishes a stream cut short all the same, with no reason of the vendor's.
    const unsaid = { ...finish, finishReason: { unified: 'other', raw: undefined } };
    expect((await read([{ type: 'text-delta', id: 't', delta: 'cut' }, unsaid])).error).toBe("The model provider's answer ended before the reply did.");
    const other = { ...finish, finishReason: { unified: 'other', raw: 'something_new' } }; // a reason this server does not know
    expect(await read([other])).toEqual({ got: [{ kind: 'finish', usage: expect.anything(), reason: 'OTHER' }] });
  });
});
