// Assistant generation through a real provider client (the AI SDK's OpenAI-compatible provider) against a
// local server speaking the vendor's streaming wire format; streams over graphql-ws and SSE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, expectErrorCode, expectNoErrors, sseSubscribe, startTestApp, subscribe, waitForMessage, waitForMessageStatus, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';
import type { RunningServer } from '../src/server.ts';
import { countTokens } from '../src/tokens.ts';

let t: TestApp;
let server: RunningServer;
let vendor: FakeOpenAI;

const PROVIDER_TIMEOUT_MS = 3_000;
const MODELS = ['normal', 'slow', 'http-error', 'broken', 'hang', 'long'];
const words = (n: number, prefix = 'w') => Array.from({ length: n }, (_, i) => `${prefix}${i} `);

const EVENT_FIELDS = /* GraphQL */ `
  __typename messageId sequenceNumber
  ... on MessageStarted { message { id status content } }
  ... on MessageDelta { delta }
  ... on MessageCompleted { message { id status content tokens model usage { promptTokens completionTokens totalTokens } completedAt } }
  ... on MessageFailed { code error message { id status content error } }
`;
const CHAT = `subscription($input: SendMessageInput!) { chat(input: $input) { ${EVENT_FIELDS} } }`;
const STREAM = `subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSequenceNumber: $after) { ${EVENT_FIELDS} } }`;
const SEND = /* GraphQL */ `
  mutation($input: SendMessageInput!) {
    sendMessage(input: $input) {
      userMessage { id position role content status }
      assistantMessage { id position role content status model }
      conversation { id messageCount activeGeneration { id } }
    }
  }`;
const CANCEL = `mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { id status content completedAt } } }`;
const MESSAGE = `query($id: ID!) { node(id: $id) { ... on Message { id status content error tokens sequence: position usage { promptTokens completionTokens } } } }`;

const eventsOf = (results: any[], field = 'chat') => results.map((r) => {
  expect(r.errors, JSON.stringify(r)).toBeUndefined();
  return r.data[field];
});
const deltas = (events: any[]) => events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('');

function expectWellFormed(events: any[], from = 0) {
  expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => from + i));
  if (from === 0) expect(events[0].__typename).toBe('MessageStarted');
  expect(['MessageCompleted', 'MessageFailed']).toContain(events.at(-1).__typename);
}

async function send(viewer: TestViewer, input: Record<string, unknown>) {
  return (await t.gql(SEND, { input }, viewer)).sendMessage;
}

/** One whole turn of `chat` in a conversation, over graphql-ws (the default) or SSE: its events. */
async function chatEvents(viewer: TestViewer, conversationId: string, content: string, over: 'ws' | 'sse' = 'ws') {
  const input = { conversationId, content };
  if (over === 'sse') return eventsOf(await sseSubscribe(server.url, viewer, CHAT, { input }));
  const client = wsClient(server, viewer);
  try {
    return eventsOf(await subscribe(client, CHAT, { input }).all());
  } finally {
    await client.dispose();
  }
}

/** The vendor's next request after `count` of them (the runner sends it just after sendMessage returns). */
async function requestAfter(count: number) {
  while (vendor.requests.length <= count) await new Promise((r) => setTimeout(r, 10));
  return vendor.requests[count];
}

const waitForStatus = (viewer: TestViewer, id: string, status: string) => waitForMessageStatus((q, v) => t.gql(q, v, viewer), id, status);

// Every test runs twice: replies read on provider threads (the default) and on the main thread.
describe.each(['2', '0'])('PROVIDER_THREADS=%s', (providerThreads) => {
  beforeAll(async () => {
    vendor = await startFakeOpenAI();
    t = await startTestApp({
      OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
      OPENAI_COMPATIBLE_NAME: 'fake',
      OPENAI_COMPATIBLE_MODELS: MODELS.join(','),
      DEFAULT_MODEL: 'fake:normal',
      // The OpenAI provider package too, pointed at the same wire-format server.
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: vendor.baseURL,
      OPENAI_MODELS: 'normal',
      // Long enough that a stall of a CPU-starved machine is not taken for a silent vendor (at 1.5 s, a CI
      // run once got a plain reply of two events, most likely failed so); the hung-upstream test waits this long.
      PROVIDER_TIMEOUT_MS: String(PROVIDER_TIMEOUT_MS),
      ECHO_DELAY_MS: '5',
      PROVIDER_THREADS: providerThreads,
    });
    server = await t.listen();
    // A first reply on each provider thread starts it (and loads the provider package): on a busy machine
    // that can take longer than the silence these tests allow a provider.
    const viewer = await t.viewer();
    const warmUps = await Promise.all([1, 2].map(async () => send(viewer, { conversationId: (await createConversation(t, viewer)).id, content: 'warm up' })));
    for (const { assistantMessage } of warmUps) await waitForMessage((q, v) => t.gql(q, v, viewer), assistantMessage.id, (node) => node.status !== 'STREAMING', 'to end', 30_000);
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await vendor.close();
  });

  describe('a full stream', () => {
    it('chat over graphql-ws: numbered events, deltas that make the content, usage, counters', async () => {
      vendor.script('normal', { tokens: ['Paris ', 'is ', 'the ', 'capital.'], usage: { prompt: 21, completion: 4 } });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { systemPrompt: 'Answer in one sentence.' });
      const events = await chatEvents(viewer, c.id, 'What is the capital of France?');

      const done = events.at(-1);
      expect(done, 'a failure says why').toMatchObject({ __typename: 'MessageCompleted' });
      expectWellFormed(events);
      expect(events.length).toBeGreaterThanOrEqual(3); // tokens that arrive together may share a delta
      expect(events[0].message).toMatchObject({ status: 'STREAMING' });
      expect(done.message).toMatchObject({
        status: 'COMPLETED', content: 'Paris is the capital.', tokens: 4, model: 'fake:normal',
        usage: { promptTokens: 21, completionTokens: 4, totalTokens: 25 },
      });
      expect(deltas(events)).toBe(done.message.content);

      // The provider was sent the context window: system prompt, then the user's message.
      const request = vendor.requests.at(-1)!;
      expect(request.body.stream).toBe(true);
      expect(request.body.messages).toEqual([
        { role: 'system', content: 'Answer in one sentence.' },
        { role: 'user', content: 'What is the capital of France?' },
      ]);

      const data = await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount totalTokens preview activeGeneration { id } } }`, { id: c.id }, viewer);
      expect(data.conversation).toMatchObject({ messageCount: 2, preview: 'Paris is the capital.', activeGeneration: null });
      expect(data.conversation.totalTokens).toBeGreaterThan(4);
    });

    it('the OpenAI provider streams through the same path, with its API key and usage', async () => {
      vendor.script('normal', { tokens: ['from ', 'openai'], usage: { prompt: 5, completion: 2 } });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'openai:normal' });
      const events = await chatEvents(viewer, c.id, 'hi', 'sse');
      expectWellFormed(events);
      expect(events.at(-1).message).toMatchObject({ content: 'from openai', model: 'openai:normal', usage: { promptTokens: 5, completionTokens: 2 } });
      expect(vendor.requests.at(-1)!.body).toMatchObject({ model: 'normal', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      expect(vendor.requests.at(-1)!.headers.authorization).toBe('Bearer sk-test');
    });

    it('chat over SSE', async () => {
      vendor.script('normal', { tokens: ['over ', 'server-sent ', 'events'] });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer);
      const events = await chatEvents(viewer, c.id, 'hi', 'sse');
      expectWellFormed(events);
      expect(events.at(-1).message.content).toBe('over server-sent events');
      expect(deltas(events)).toBe('over server-sent events');
    });

    it('the echo model replies with the last user message, token by token, with usage', async () => {
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'builtin:echo' });
      const events = await chatEvents(viewer, c.id, 'Repeat after me, please.');
      expectWellFormed(events);
      // Piece by piece (a server that falls behind may send pieces that queued up together as one delta).
      expect(events.filter((e) => e.__typename === 'MessageDelta').length).toBeGreaterThan(1);
      expect(deltas(events)).toBe('Repeat after me, please.');
      expect(events.at(-1).message).toMatchObject({
        content: 'Repeat after me, please.', model: 'builtin:echo', usage: { completionTokens: await countTokens('Repeat after me, please.') },
      });
    });

    it('publishes MESSAGE_ADDED for both messages and MESSAGE_UPDATED when the reply ends', async () => {
      vendor.script('normal', { tokens: ['a', 'b'] });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer);
      const client = wsClient(server, viewer);
      const sub = subscribe(client, `subscription($id: ID!) { conversationEvents(conversationId: $id) { type message { role status content } } }`, { id: c.id });
      await new Promise((r) => setTimeout(r, 150));
      await send(viewer, { conversationId: c.id, content: 'go' });
      const events = (await sub.next(3)).map((r) => r.data.conversationEvents);
      expect(events).toEqual([
        { type: 'MESSAGE_ADDED', message: { role: 'USER', status: 'COMPLETED', content: 'go' } },
        { type: 'MESSAGE_ADDED', message: expect.objectContaining({ role: 'ASSISTANT' }) },
        { type: 'MESSAGE_UPDATED', message: { role: 'ASSISTANT', status: 'COMPLETED', content: 'ab' } },
      ]);
      await client.dispose();
    });
  });

  describe('resuming', () => {
    it('sendMessage returns at once; messageStream resumes from the middle with no gap or duplicate', async () => {
      vendor.script('slow', { tokens: words(12), delayMs: 40 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const sent = await send(viewer, { conversationId: c.id, content: 'count' });
      expect(sent.userMessage).toMatchObject({ position: 1, role: 'USER', status: 'COMPLETED' });
      expect(sent.assistantMessage).toMatchObject({ position: 2, role: 'ASSISTANT', status: 'STREAMING', content: '', model: 'fake:slow' });
      expect(sent.conversation.activeGeneration).toEqual({ id: sent.assistantMessage.id });

      const client = wsClient(server, viewer);
      const first = subscribe(client, STREAM, { id: sent.assistantMessage.id });
      const seen = eventsOf(await first.next(5), 'messageStream');
      first.dispose(); // the client goes away mid-stream
      const last = seen.at(-1).sequenceNumber;

      const second = eventsOf(await subscribe(client, STREAM, { id: sent.assistantMessage.id, after: last }).all(), 'messageStream');
      expect(second[0].sequenceNumber).toBe(last + 1);
      expectWellFormed([...seen, ...second]);
      expect(deltas([...seen, ...second])).toBe(words(12).join(''));
      expect(second.at(-1).message.content).toBe(words(12).join(''));
      await client.dispose();
    });

    it('two subscribers get the same events; a subscriber after the end gets the whole replay', async () => {
      vendor.script('slow', { tokens: words(6), delayMs: 20 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const sent = await send(viewer, { conversationId: c.id, content: 'x' });
      const a = wsClient(server, viewer);
      const b = wsClient(server, viewer);
      const [fromA, fromB] = await Promise.all([
        subscribe(a, STREAM, { id: sent.assistantMessage.id }).all(),
        subscribe(b, STREAM, { id: sent.assistantMessage.id }).all(),
      ]);
      expect(eventsOf(fromA, 'messageStream')).toEqual(eventsOf(fromB, 'messageStream'));
      const late = eventsOf(await subscribe(a, STREAM, { id: sent.assistantMessage.id }).all(), 'messageStream');
      expect(late.map((e) => e.sequenceNumber)).toEqual(eventsOf(fromA, 'messageStream').map((e) => e.sequenceNumber));
      const last = late.at(-1).sequenceNumber;
      const tail = eventsOf(await subscribe(a, STREAM, { id: sent.assistantMessage.id, after: last - 2 }).all(), 'messageStream');
      expect(tail.map((e) => e.sequenceNumber)).toEqual([last - 1, last]);
      const nothing = await subscribe(a, STREAM, { id: sent.assistantMessage.id, after: last }).all();
      expect(nothing).toEqual([]);
      await a.dispose();
      await b.dispose();
    });

    it('a generation goes on with no subscriber at all, and its result is persisted', async () => {
      vendor.script('slow', { tokens: words(5), delayMs: 20 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const sent = await send(viewer, { conversationId: c.id, content: 'x' });
      const message = await waitForStatus(viewer, sent.assistantMessage.id, 'COMPLETED');
      expect(message.content).toBe(words(5).join(''));
    });
  });

  describe('control', () => {
    it('cancelGeneration aborts the upstream request, keeps the partial text and sets CANCELLED', async () => {
      vendor.script('slow', { tokens: words(200), delayMs: 30 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const client = wsClient(server, viewer);
      const sub = subscribe(client, CHAT, { input: { conversationId: c.id, content: 'long' } });
      const early = eventsOf(await sub.next(4));
      const request = vendor.requests.at(-1)!;
      const cancelled = (await t.gql(CANCEL, { id: early[0].messageId }, viewer)).cancelGeneration.message;
      expect(cancelled.status).toBe('CANCELLED');
      expect(await request.abortedByClient).toBe(true);

      const events = eventsOf(await sub.all());
      expectWellFormed(events);
      expect(events.at(-1).message).toMatchObject({ status: 'CANCELLED', content: cancelled.content });
      expect(deltas(events)).toBe(cancelled.content);
      expect(cancelled.content.length).toBeGreaterThan(0);
      expect(cancelled.content.length).toBeLessThan(words(200).join('').length);
      // Cancelling a finished message returns it unchanged.
      expect((await t.gql(CANCEL, { id: cancelled.id }, viewer)).cancelGeneration.message).toEqual(cancelled);
      await client.dispose();
    });

    it('REJECT answers GENERATION_IN_PROGRESS and stores nothing; INTERRUPT cancels the running one first', async () => {
      vendor.script('slow', { tokens: words(100), delayMs: 30 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const first = await send(viewer, { conversationId: c.id, content: 'one' });
      const { body } = await t.request(SEND, { input: { conversationId: c.id, content: 'two' } }, viewer);
      expectErrorCode(body, 'GENERATION_IN_PROGRESS');
      expect((await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, viewer)).conversation.messageCount).toBe(2);

      vendor.script('slow', { tokens: ['fresh'], delayMs: 5 });
      const second = await send(viewer, { conversationId: c.id, content: 'three', onActiveGeneration: 'INTERRUPT' });
      expect((await t.gql(MESSAGE, { id: first.assistantMessage.id }, viewer)).node.status).toBe('CANCELLED');
      expect(second.userMessage.position).toBe(3);
      expect((await waitForStatus(viewer, second.assistantMessage.id, 'COMPLETED')).content).toBe('fresh');
    });

    it('INTERRUPT turns sent at once on one conversation all go through, one after another: each stops the one before', async () => {
      vendor.script('slow', { tokens: words(400), delayMs: 20 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const turns = await Promise.all(
        Array.from({ length: 10 }, (_, i) => t.request(SEND, { input: { conversationId: c.id, content: `turn ${i}`, onActiveGeneration: 'INTERRUPT' } }, viewer)),
      );
      for (const { body } of turns) expectNoErrors(body);
      const replies = turns.map(({ body }) => body.data.sendMessage.assistantMessage.id as string);
      const statuses = await Promise.all(replies.map(async (id) => (await t.gql(MESSAGE, { id }, viewer)).node.status));
      // One reply runs on, the others were stopped by the turn after them; nothing else streams.
      expect(statuses.filter((s) => s === 'STREAMING')).toHaveLength(1);
      expect(statuses.filter((s) => s === 'CANCELLED')).toHaveLength(9);
      expect((await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, viewer)).conversation.messageCount).toBe(20);
      await t.gql(CANCEL, { id: replies[statuses.indexOf('STREAMING')] }, viewer);
    });

    it('deleting a conversation cancels its running reply; purging one mid-stream ends its stream', async () => {
      vendor.script('slow', { tokens: words(300), delayMs: 20 });
      const viewer = await t.viewer();
      const deleted = await createConversation(t, viewer, { model: 'fake:slow' });
      const before = vendor.requests.length;
      const first = await send(viewer, { conversationId: deleted.id, content: 'x' });
      const firstRequest = await requestAfter(before);
      await t.gql(`mutation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { status } } }`, { id: deleted.id }, viewer);
      expect((await t.gql(MESSAGE, { id: first.assistantMessage.id }, viewer)).node.status).toBe('CANCELLED');
      expect(await firstRequest.abortedByClient).toBe(true);

      const purged = await createConversation(t, viewer, { model: 'fake:slow' });
      const client = wsClient(server, viewer);
      const sub = subscribe(client, CHAT, { input: { conversationId: purged.id, content: 'y' } });
      await sub.next(3);
      const request = vendor.requests.at(-1)!;
      await t.gql(`mutation($id: ID!) { purgeConversation(input: { id: $id }) { purgedConversationId } }`, { id: purged.id }, viewer);
      await sub.all(); // it ends (with the message gone, its last event says so)
      expect(await request.abortedByClient).toBe(true);
      expect(JSON.stringify(sub.results.at(-1))).toMatch(/NOT_FOUND|MessageCompleted/);
      await client.dispose();
    });

    it('only one of many concurrent sends starts a generation', async () => {
      vendor.script('slow', { tokens: words(20), delayMs: 20 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const results = await Promise.all([1, 2, 3, 4].map((i) => t.request(SEND, { input: { conversationId: c.id, content: `m${i}` } }, viewer)));
      expect(results.filter((r) => !r.body.errors)).toHaveLength(1);
      for (const r of results.filter((r) => r.body.errors)) expectErrorCode(r.body, 'GENERATION_IN_PROGRESS');
    });

    it('an idempotent retry returns the first result and starts nothing new', async () => {
      vendor.script('normal', { tokens: ['once'] });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer);
      // This send's replies only: the vendor also gets the conversation's title after the first reply, and
      // requests of earlier tests may still arrive.
      const replies = () =>
        vendor.requests.filter((r) => !String(r.body.messages?.[0]?.content).startsWith('Write a title') && JSON.stringify(r.body.messages).includes('retry me')).length;
      const before = replies();
      const input = { conversationId: c.id, content: 'retry me', idempotencyKey: 'send-1' };
      const a = await send(viewer, input);
      await waitForStatus(viewer, a.assistantMessage.id, 'COMPLETED');
      const b = await send(viewer, input);
      expect(b.assistantMessage.id).toBe(a.assistantMessage.id);
      expect(b.userMessage.id).toBe(a.userMessage.id);
      expect(replies() - before).toBe(1);
      expect((await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, viewer)).conversation.messageCount).toBe(2);
    });

    it('refuses a message that cannot fit the context window, and stores nothing', async () => {
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'builtin:echo' });
      const { body } = await t.request(SEND, { input: { conversationId: c.id, content: 'word '.repeat(17_000) } }, viewer);
      expect(expectErrorCode(body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe('content');
      expect((await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, viewer)).conversation.messageCount).toBe(0);
    });

    it('a retried send with INTERRUPT does not cancel the generation its first attempt started', async () => {
      vendor.script('slow', { tokens: words(30), delayMs: 20 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const input = { conversationId: c.id, content: 'once', idempotencyKey: 'retry-interrupt', onActiveGeneration: 'INTERRUPT' };
      const first = await send(viewer, input);
      const retry = await send(viewer, input);
      expect(retry.assistantMessage.id).toBe(first.assistantMessage.id);
      expect((await waitForStatus(viewer, first.assistantMessage.id, 'COMPLETED')).content).toBe(words(30).join(''));
    });

    it('checks the model against the configured ones', async () => {
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer);
      const { body } = await t.request(SEND, { input: { conversationId: c.id, content: 'x', model: 'openai:gpt-nope' } }, viewer);
      expect(expectErrorCode(body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe('model');
      const models = (await t.gql('{ models { id provider name isDefault } }', {}, viewer)).models;
      expect(models).toEqual(expect.arrayContaining([
        { id: 'builtin:echo', provider: 'builtin', name: 'echo', isDefault: false },
        { id: 'fake:normal', provider: 'fake', name: 'normal', isDefault: true },
      ]));
    });

    it('refuses empty content, a USER message stream and another viewer\'s message', async () => {
      vendor.script('normal', { tokens: ['x'] });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer);
      expectErrorCode((await t.request(SEND, { input: { conversationId: c.id, content: '  ' } }, viewer)).body, 'BAD_USER_INPUT');
      const sent = await send(viewer, { conversationId: c.id, content: 'hello' });
      const client = wsClient(server, viewer);
      const userStream = await subscribe(client, STREAM, { id: sent.userMessage.id }).all().catch((e) => e);
      expect(JSON.stringify(userStream)).toContain('BAD_USER_INPUT');
      const other = await t.viewer();
      const otherClient = wsClient(server, other);
      const foreign = await subscribe(otherClient, STREAM, { id: sent.assistantMessage.id }).all().catch((e) => e);
      expect(JSON.stringify(foreign)).toContain('NOT_FOUND');
      expectErrorCode((await t.request(CANCEL, { id: sent.assistantMessage.id }, other)).body, 'NOT_FOUND');
      await client.dispose();
      await otherClient.dispose();
    });

    it('refuses an ID of another type or a malformed one in sendMessage, chat and messageStream, storing nothing', async () => {
      vendor.script('normal', { tokens: ['x'] });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer);
      const sent = await send(viewer, { conversationId: c.id, content: 'hello' });
      expectErrorCode((await t.request(SEND, { input: { conversationId: sent.userMessage.id, content: 'x' } }, viewer)).body, 'BAD_USER_INPUT');
      expectErrorCode((await t.request(SEND, { input: { conversationId: c.id, content: 'x', chatSessionId: c.id } }, viewer)).body, 'BAD_USER_INPUT');
      expectErrorCode((await t.request(SEND, { input: { conversationId: 'garbage', content: 'x' } }, viewer)).body, 'BAD_USER_INPUT');
      const client = wsClient(server, viewer);
      const chat = await subscribe(client, CHAT, { input: { conversationId: 'garbage', content: 'x' } }).all().catch((e) => e);
      expect(JSON.stringify(chat)).toContain('BAD_USER_INPUT');
      const stream = await subscribe(client, STREAM, { id: c.id }).all().catch((e) => e);
      expect(JSON.stringify(stream)).toContain('BAD_USER_INPUT');
      await client.dispose();
      expect((await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, viewer)).conversation.messageCount).toBe(2);
    });
  });

  describe('provider faults', () => {
    it('an HTTP error fails the message with PROVIDER_ERROR and a readable error', async () => {
      vendor.script('http-error', { status: 500 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:http-error' });
      const events = await chatEvents(viewer, c.id, 'x', 'sse');
      expectWellFormed(events);
      const failed = events.at(-1);
      expect(failed).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content: '' } });
      expect(failed.error).toMatch(/HTTP 500/);
      expect(failed.message.error).toBe(failed.error);
    });

    it('a stream that breaks mid-way fails the message and keeps the partial text', async () => {
      vendor.script('broken', { tokens: words(10), breakAfter: 4 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:broken' });
      const events = await chatEvents(viewer, c.id, 'x');
      expectWellFormed(events);
      expect(events.at(-1)).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content: words(4).join('') } });
      expect(deltas(events)).toBe(words(4).join(''));
    });

    it('an error event right behind some text fails the message and keeps that text', async () => {
      vendor.script('broken', { tokens: words(10), errorAfter: 3 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:broken' });
      const events = await chatEvents(viewer, c.id, 'x', 'sse');
      expectWellFormed(events);
      expect(events.at(-1)).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content: words(3).join('') } });
      expect(deltas(events)).toBe(words(3).join(''));
    });

    it('a hung upstream fails after the provider timeout, with the text it had sent', async () => {
      vendor.script('hang', { tokens: words(10), hangAfter: 3 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:hang' });
      const events = await chatEvents(viewer, c.id, 'x');
      expect(events.at(-1)).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content: words(3).join('') } });
      expect(events.at(-1).error).toMatch(/did not answer/);
      expect(await vendor.requests.at(-1)!.abortedByClient).toBe(true);
    });

    // The vendor runs on this thread too: with provider threads, its tokens would reach the server only after
    // the stall, so the stall would be true silence. Read on the main thread, they wait in the socket.
    it.skipIf(providerThreads !== '0')('a server that stalls longer than the provider timeout does not take a provider that kept talking for a hung one', async () => {
      vendor.script('slow', { tokens: words(30), delayMs: 50 });
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'fake:slow' });
      const client = wsClient(server, viewer);
      const sub = subscribe(client, CHAT, { input: { conversationId: c.id, content: 'x' } });
      await sub.next(3);
      // The server's event loop (this process's) is busy for longer than PROVIDER_TIMEOUT_MS while the
      // vendor goes on sending: its tokens wait, unread, and must count as heard once read.
      const busyUntil = Date.now() + PROVIDER_TIMEOUT_MS + 500;
      while (Date.now() < busyUntil);
      const events = eventsOf(await sub.all());
      await client.dispose();
      expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'COMPLETED', content: words(30).join('') } });
    });
  });
});
