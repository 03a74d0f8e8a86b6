// Reading replies off the main thread: the provider threads share the replies, and a thread that dies
// fails the replies it was reading instead of leaving them waiting forever; the next reply gets a new one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviderStreams } from '../src/models/provider-streams.ts';
import { ProviderFailure } from '../src/models/reply.ts';
import { ReplyQueue } from '../src/models/reply-queue.ts';
import type { ReplyPart } from '../src/models/reply.ts';
import { createModelRegistry } from '../src/models/registry.ts';
import { createLogger } from '../src/logger.ts';
import { withRequest } from '../src/observability/request-context.ts';
import { MIN_VENDOR_EVENT_BYTES, type ModelsConfig } from '../src/config.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';

const promptOf = (text: string) => ({ prompt: [{ role: 'user' as const, content: [{ type: 'text' as const, text }] }] });
const prompt = promptOf('hello there');
const log = createLogger({ logLevel: 'silent' });

async function readAll(stream: AsyncIterable<ReplyPart[]>): Promise<string> {
  let text = '';
  for await (const batch of stream) for (const part of batch) if (part.kind === 'text') text += part.text;
  return text;
}

describe('provider threads', () => {
  // Threads read the replies of providers that do I/O: an OpenAI-compatible server that repeats the prompt.
  let vendor: FakeOpenAI;
  beforeAll(async () => {
    vendor = await startFakeOpenAI();
    vendor.script('repeat', (body) => ({ tokens: (body.messages.at(-1).content as string).split(/(?<= )/), delayMs: 1 }));
  });
  afterAll(() => vendor.close());
  const withVendor = (more: Partial<ModelsConfig> = {}): ModelsConfig => ({ echoDelayMs: 0, providerThreads: 1, vendorEventMaxBytes: MIN_VENDOR_EVENT_BYTES, compatible: { name: 'fake', baseURL: vendor.baseURL, models: ['repeat'] }, ...more });

  it('read replies on the threads, several at once', async () => {
    const config = withVendor({ providerThreads: 2 });
    const providers = createProviderStreams(createModelRegistry(config), config, log);
    try {
      const texts = Array.from({ length: 5 }, (_, i) => `reply number ${i} of five`);
      const replies = texts.map((text) => readAll(providers.stream('fake:repeat', promptOf(text), new AbortController().signal)));
      expect(await Promise.all(replies)).toEqual(texts);
    } finally {
      await providers.close();
    }
  });

  it('fail the replies of a thread that dies, each time, rather than leaving them waiting', async () => {
    // The main thread's registry is fine; the thread's copy of the configuration makes it throw at start.
    const config = withVendor({ providerThreads: 1, defaultModel: 'nowhere:model' });
    const providers = createProviderStreams(createModelRegistry(withVendor()), config, log);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const failure = await readAll(providers.stream('fake:repeat', prompt, new AbortController().signal)).catch((error) => error);
        expect(failure).toBeInstanceOf(ProviderFailure);
        expect(failure.description).toMatch(/model provider failed/);
      }
    } finally {
      await providers.close();
    }
  });

  it("log what befalls a thread as no request's: not as the one whose reply happened to start it", async () => {
    const lines: any[] = [];
    const linesLog = createLogger({ logLevel: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const config = withVendor({ providerThreads: 1, defaultModel: 'nowhere:model' }); // (the thread dies at start, as above)
    const providers = createProviderStreams(createModelRegistry(withVendor()), config, linesLog);
    try {
      const reply = withRequest({ requestId: 'starts-the-thread' }, () => readAll(providers.stream('fake:repeat', prompt, new AbortController().signal)));
      await reply.catch(() => {});
      const stopped = lines.filter((line) => line.msg === 'provider thread stopped');
      expect(stopped.length).toBeGreaterThan(0);
      expect(stopped.map((line) => line.requestId ?? null)).toEqual(stopped.map(() => null));
    } finally {
      await providers.close();
    }
  });

  it.each([1, 0])('with PROVIDER_THREADS=%i, fail a reply whose generation was stopped before it began, sending nothing', async (providerThreads) => {
    const config = withVendor({ providerThreads });
    const providers = createProviderStreams(createModelRegistry(config), config, log);
    try {
      const requestsBefore = vendor.requests.length;
      const stopped = new AbortController();
      stopped.abort(new Error('generation cancel'));
      await expect(readAll(providers.stream('fake:repeat', prompt, stopped.signal))).rejects.toThrow('generation cancel');
      // A later reply on the same providers still goes through, so the thread (if any) was up all along.
      expect(await readAll(providers.stream('fake:repeat', prompt, new AbortController().signal))).toBe('hello there');
      expect(vendor.requests.length).toBe(requestsBefore + 1);
    } finally {
      await providers.close();
    }
  });

  it('are not started for builtin:echo alone, which is read on the main thread', async () => {
    // The thread's copy of this configuration would fail every reply: echo never reaches a thread.
    const config = { echoDelayMs: 0, providerThreads: 2, defaultModel: 'nowhere:model', vendorEventMaxBytes: MIN_VENDOR_EVENT_BYTES };
    const providers = createProviderStreams(createModelRegistry({ echoDelayMs: 0, vendorEventMaxBytes: MIN_VENDOR_EVENT_BYTES }), config, log);
    try {
      expect(await readAll(providers.stream('builtin:echo', prompt, new AbortController().signal))).toBe('hello there');
    } finally {
      await providers.close();
    }
  });
});

describe('a reply queue', () => {
  it('hands over what queued up as one batch, pieces of one thing joined, in order', async () => {
    const reply = new ReplyQueue(() => {});
    reply.push({ kind: 'reasoning', block: 'r', text: 'hm', metadata: { p: { a: 1 } } });
    reply.push({ kind: 'reasoning', block: 'r', text: 'm', metadata: { p: { signature: 's' } } });
    reply.push({ kind: 'text', text: 'a ' });
    reply.push({ kind: 'text', text: 'b ' });
    reply.push({ kind: 'toolInput', id: 'c1', name: 'f', delta: '{"x"' });
    reply.push({ kind: 'toolInput', id: 'c1', name: 'f', delta: ':1}' });
    reply.push({ kind: 'toolInput', id: 'c2', name: 'g', delta: '{}' });
    reply.push({ kind: 'finish', usage: { inputTokens: 3, outputTokens: 2 }, reason: 'TOOL_CALLS' });
    expect(await reply.next()).toEqual({
      done: false,
      value: [
        { kind: 'reasoning', block: 'r', text: 'hmm', metadata: { p: { a: 1, signature: 's' } } },
        { kind: 'text', text: 'a b ' },
        { kind: 'toolInput', id: 'c1', name: 'f', delta: '{"x":1}' },
        { kind: 'toolInput', id: 'c2', name: 'g', delta: '{}' },
        { kind: 'finish', usage: { inputTokens: 3, outputTokens: 2 }, reason: 'TOOL_CALLS' },
      ],
    });
    const later = reply.next();
    reply.push({ kind: 'text', text: 'c' });
    reply.end();
    expect(await later).toEqual({ done: false, value: [{ kind: 'text', text: 'c' }] });
    expect(await reply.next()).toEqual({ done: true, value: undefined });
  });

  it('delivers the text before a failure, then throws it, and stops the reading once', async () => {
    let stops = 0;
    const reply = new ReplyQueue(() => stops++);
    reply.push({ kind: 'text', text: 'partial' });
    reply.fail(new Error('upstream broke'));
    reply.fail(new Error('a second failure is ignored'));
    expect(await reply.next()).toEqual({ done: false, value: [{ kind: 'text', text: 'partial' }] });
    await expect(reply.next()).rejects.toThrow('upstream broke');
    expect(stops).toBe(1);
  });

  it('stops the reading when its consumer leaves early', async () => {
    let stops = 0;
    const reply = new ReplyQueue(() => stops++);
    reply.push({ kind: 'text', text: 'first' });
    for await (const batch of reply) {
      expect(batch).toEqual([{ kind: 'text', text: 'first' }]);
      break;
    }
    expect(stops).toBe(1);
  });
});
