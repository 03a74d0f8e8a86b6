import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { createConversation, expectErrorCode, startTestApp, subscribe, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { chargeTime, createRateLimiter } from '../src/rate-limit.ts';
import { StreamedBytes } from '../src/generation/streamed-bytes.ts';
import { loggedBytes } from '../src/streams/events.ts';
import { scan } from '../src/scans.ts';
import { Redis } from 'ioredis';
import { startTestRedis } from './redis-server.ts';

let t: TestApp;
beforeAll(async () => (t = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '5', RATE_LIMIT_GENERATIONS_PER_MINUTE: '2' })));
afterAll(() => t.close());

it('answers HTTP 429 RATE_LIMITED with Retry-After past the per-viewer request limit; others are not affected', async () => {
  const viewer = await t.viewer();
  for (let i = 0; i < 5; i++) expect((await t.request('{ viewer { userId } }', {}, viewer)).status).toBe(200);
  const response = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
    body: JSON.stringify({ query: '{ viewer { userId } }' }),
  });
  expect(response.status).toBe(429);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
  expectErrorCode((await response.json()) as any, 'RATE_LIMITED');
  expect((await t.request('{ viewer { userId } }', {}, await t.viewer())).status).toBe(200);
});

it('limits generations started per viewer, storing nothing for a refused one', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  const send = () => t.request(`mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "hi", onActiveGeneration: INTERRUPT }) { assistantMessage { id } } }`, { c: c.id }, viewer);
  expect((await send()).body.errors).toBeUndefined();
  expect((await send()).body.errors).toBeUndefined();
  const third = await send();
  expect(third.status).toBe(429);
  expectErrorCode(third.body, 'RATE_LIMITED');
});

it('counts each tool result a submit stores as a request, storing nothing past the limit', async () => {
  const submitCalls = async (calls: number) => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' }); // 1
    const toolCalls = Array.from({ length: calls }, (_, i) => ({ id: `c${i}`, type: 'function', function: { name: 'f', arguments: '{}' } }));
    const append = `mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`;
    const { id } = (await t.gql(append, { input: { conversationId: c.id, role: 'ASSISTANT', content: '', toolCalls } }, viewer)).appendMessage.message; // 2
    const results = toolCalls.map((call) => ({ toolCallId: call.id, content: 'ok' }));
    const submit = `mutation($input: SubmitToolResultsInput!) { submitToolResults(input: $input) { toolMessages { id } } }`;
    const { body } = await t.request(submit, { input: { messageId: id, results, generate: false } }, viewer);
    const stored = await t.app.services.prisma.message.count({ where: { conversationId: Buffer.from(c.id, 'base64').toString().split(':')[1] } });
    return { body, stored };
  };
  const within = await submitCalls(3); // 2 + 3 requests: the limit
  expect(within.body.errors).toBeUndefined();
  expect(within.stored).toBe(4);
  const past = await submitCalls(4); // 2 + 4
  expectErrorCode(past.body, 'RATE_LIMITED');
  expect(past.stored).toBe(1);
});

it('charges work by the time it took after it ran: the answer stands, the next requests pay', async () => {
  const limiter = createRateLimiter({ requestsPerMinute: 10, requestBurst: 10, generationsPerMinute: 0, bytesPerDay: 0, streamedBytesPerHour: 0 }, { log: pino({ level: 'silent' }) });
  const viewer = { userId: `timed-${Date.now()}`, orgId: null };
  await chargeTime(limiter, viewer, 4.9, 5); // under one request: nothing
  await limiter.request(viewer, 9);
  await chargeTime(limiter, viewer, 12, 5); // two requests past the limit: not thrown here…
  await expect(limiter.request(viewer)).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } }); // …but the next one is refused
  const other = { userId: `untimed-${Date.now()}`, orgId: null };
  await limiter.request(other, 10); // a viewer that charged nothing has its whole minute
});

describe('bytes a viewer sends in a day (RATE_LIMIT_MB_PER_DAY)', () => {
  let app: TestApp;
  let server: RunningServer;
  const LIMIT = 0.05; // MB: 52,428 bytes
  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_MB_PER_DAY: String(LIMIT), ECHO_DELAY_MS: '0' });
    server = await app.listen();
  });
  afterAll(() => app.close());

  const APPEND = `mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }`;
  const stored = (conversationId: string) =>
    app.app.services.prisma.message.count({ where: { conversationId: Buffer.from(conversationId, 'base64').toString().split(':')[1] } });

  it('over HTTP: past the limit a write is refused (429), storing nothing; another viewer is served', async () => {
    const viewer = await app.viewer();
    const c = await createConversation(app, viewer);
    const post = (who: TestViewer, conversation: string) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${who.token}` },
        body: JSON.stringify({ query: APPEND, variables: { c: conversation, t: 'x'.repeat(30_000) } }),
      });
    expect((await post(viewer, c.id)).status).toBe(200);
    const refused = await post(viewer, c.id);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60); // the day's window
    expectErrorCode((await refused.json()) as any, 'RATE_LIMITED');
    expect(await stored(c.id)).toBe(1);
    const other = await app.viewer();
    expect((await post(other, (await createConversation(app, other)).id)).status).toBe(200);
  });

  it('over a WebSocket: an operation past the limit is refused, storing nothing', async () => {
    const viewer = await app.viewer();
    const c = await createConversation(app, viewer, { model: 'builtin:echo' });
    const client = wsClient(server, viewer);
    const CHAT = `subscription($c: ID!, $t: String!) { chat(input: { conversationId: $c, content: $t }) { __typename } }`;
    const first = await subscribe(client, CHAT, { c: c.id, t: 'y'.repeat(30_000) }).all();
    expect(first.at(-1)?.errors).toBeUndefined();
    const second = await subscribe(client, CHAT, { c: c.id, t: 'y'.repeat(30_000) }).all();
    expect(second.flatMap((result) => result.errors ?? []).map((error) => error.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(await stored(c.id)).toBe(2); // the first turn: its message and reply
    await client.dispose();
  });

  it('a fork counts the bytes it copies; reads count nothing', async () => {
    const viewer = await app.viewer();
    const c = await createConversation(app, viewer);
    const { id } = (await app.gql(APPEND, { c: c.id, t: 'z'.repeat(20_000) }, viewer)).appendMessage.message; // 20 KB sent
    const READ = `query($c: ID!) { conversation(id: $c) { messageCount } }`;
    // 90 KB of reads (a variable no operation uses pads them): they store nothing, and count nothing.
    for (let i = 0; i < 3; i++) expect((await app.request(READ, { c: c.id, pad: 'r'.repeat(30_000) }, viewer)).body.errors).toBeUndefined();
    const FORK = `mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { id } } }`;
    expect((await app.request(FORK, { m: id }, viewer)).body.errors).toBeUndefined(); // 20 KB copied: 40 KB
    expectErrorCode((await app.request(FORK, { m: id }, viewer)).body, 'RATE_LIMITED'); // 60 KB
  });
});

describe('bytes the replies of a viewer stream in an hour (RATE_LIMIT_STREAMED_MB_PER_HOUR)', () => {
  let app: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    // 31,457 bytes: spent at the reply's first count (64 KiB of events), however its text was cut into events.
    app = await startTestApp({ RATE_LIMIT_STREAMED_MB_PER_HOUR: '0.03', ECHO_DELAY_MS: '0', CONTEXT_MAX_TOKENS: '100000' });
    server = await app.listen();
  });
  afterAll(() => app.close());

  const CHAT = `subscription($c: ID!, $t: String!) { chat(input: { conversationId: $c, content: $t }) { __typename
    ... on MessageDelta { delta } ... on MessageCompleted { message { status finishReason content } } } }`;
  const SEND = `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "hi" }) { assistantMessage { id } } }`;

  it('ends the reply that spends them as REPLY_MAX_CHARS would (LENGTH, its text whole), then refuses turns; another viewer is served', async () => {
    const viewer = await app.viewer();
    const c = await createConversation(app, viewer, { model: 'builtin:echo' });
    const client = wsClient(server, viewer);
    // 30,000 pieces of 3 characters (a loaded server joins some into one event): 90 KB of text, more than a
    // count's 64 KiB however few the events, and up to 4 MB in the event log.
    const results = await subscribe<any>(client, CHAT, { c: c.id, t: 'ab '.repeat(30_000) }).all();
    await client.dispose();
    const events = results.map((r) => r.data.chat);
    const done = events.at(-1);
    expect(done).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'COMPLETED', finishReason: 'LENGTH' } });
    expect(done.message.content.length).toBeGreaterThan(1_000);
    expect(done.message.content.length).toBeLessThan(90_000);
    expect(events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('')).toBe(done.message.content);

    const refused = await app.request(SEND, { c: c.id }, viewer);
    expectErrorCode(refused.body, 'RATE_LIMITED');
    expect(refused.body.errors?.[0]?.message).toContain('RATE_LIMIT_STREAMED_MB_PER_HOUR');
    expect(refused.status).toBe(429);
    expect((await app.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, viewer)).conversation.messageCount).toBe(2);

    const other = await app.viewer();
    expect((await app.request(SEND, { c: (await createConversation(app, other, { model: 'builtin:echo' })).id }, other)).body.errors).toBeUndefined();
  });
});

describe('bytes streamed, counted', () => {
  const silent = pino({ level: 'silent' });
  const delta = (n: number) => ({ type: 'delta' as const, sequenceNumber: 1, delta: 'x'.repeat(n) });

  it('by the limiter: past the hour, true (never thrown); turns refused meanwhile, and at once at the limit; others unaffected', async () => {
    const limiter = createRateLimiter({ requestsPerMinute: 0, requestBurst: 1, generationsPerMinute: 0, bytesPerDay: 0, streamedBytesPerHour: 1_000 }, { log: silent });
    const viewer = { userId: `streamer-${Date.now()}`, orgId: null };
    expect(await limiter.streamed(viewer, 999)).toBe(false);
    await limiter.generation(viewer); // 1 byte left
    expect(await limiter.streamed({ ...viewer, orgId: '' }, 1)).toBe(false); // the conversation's owner: the same count
    await expect(limiter.generation(viewer)).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' }, message: expect.stringContaining('RATE_LIMIT_STREAMED_MB_PER_HOUR') });
    expect(await limiter.streamed(viewer, 1)).toBe(true);
    await limiter.generation({ userId: `other-${Date.now()}`, orgId: null });
  });

  it('by the limiters of every instance together, through Redis: what one instance counts refuses turns on another', async () => {
    const redis = await startTestRedis();
    const clients = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const limits = { requestsPerMinute: 0, requestBurst: 1, generationsPerMinute: 0, bytesPerDay: 0, streamedBytesPerHour: 1_000 };
      const [here, there] = clients.map((client) => createRateLimiter(limits, { redis: client, log: silent }));
      const viewer = { userId: `streamer-${Date.now()}`, orgId: null };
      expect(await here.streamed(viewer, 600)).toBe(false);
      await there.generation(viewer); // 400 bytes left
      expect(await there.streamed(viewer, 600)).toBe(true);
      await expect(here.generation(viewer)).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
      await expect(there.generation(viewer)).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
      expect((await clients[0].keys('chat:rate:streamed:*')).length).toBe(1);
    } finally {
      for (const client of clients) client.disconnect();
      await redis.stop();
    }
  });

  it("by an event: its texts in UTF-8 beside 128 bytes, a tool call's name and id in each of its deltas", () => {
    expect(loggedBytes({ type: 'delta', sequenceNumber: 1, delta: 'héllo' })).toBe(128 + 6);
    expect(loggedBytes({ type: 'toolCallDelta', sequenceNumber: 2, toolCallId: 'call_1', name: 'T'.repeat(64), argumentsDelta: '{"a":' })).toBe(128 + 6 + 64 + 5);
    expect(loggedBytes({ type: 'toolCall', sequenceNumber: 3, toolCall: { id: 'call_1', name: 'lookup', arguments: '{"q":"日本"}' } })).toBe(128 + 6 + 6 + 14);
    expect(loggedBytes({ type: 'completed', sequenceNumber: 4, status: 'COMPLETED' })).toBe(128);
  });

  it('by a reply: a share at a time in the background, in order, the rest at its end; a count that fails is logged and taken as not spent', async () => {
    const counts: number[] = [];
    let answer: () => Promise<boolean> = async () => false;
    const stored: number[] = [];
    const streamed = new StreamedBytes(
      { streamed: async (_owner, bytes) => (counts.push(bytes), answer()) },
      { userId: 'u', orgId: null },
      silent,
      { stored: (_owner, bytes) => void stored.push(bytes) },
    );
    for (let i = 0; i < 511; i++) streamed.add(delta(0)); // 511 × 128 bytes: under a share
    expect(counts).toEqual([]);
    streamed.add(delta(0)); // the 512th: 64 KiB, counted
    await streamed.end();
    expect(counts).toEqual([65_536]);
    answer = () => Promise.reject(new Error('redis is away'));
    streamed.add(delta(70_000));
    await streamed.end();
    expect(streamed.spent).toBe(false);
    answer = async () => true;
    streamed.add(delta(10));
    await streamed.end();
    expect(counts).toEqual([65_536, 70_128, 138]);
    expect(streamed.spent).toBe(true);
    expect(stored).toEqual([0, 70_000, 10]); // with each share, the text it held is added to its owner's storage
  });
});

describe('scans of what a viewer stored (row counts, filtered pages)', () => {
  const silent = pino({ level: 'silent' });
  const limiter = (requestsPerMinute: number) => createRateLimiter({ requestsPerMinute, requestBurst: requestsPerMinute, generationsPerMinute: 0, bytesPerDay: 0, streamedBytesPerHour: 0 }, { log: silent });
  /** Reads that record when they run, each ending when the test says. */
  const reads = () => {
    const ran: string[] = [];
    const ends = new Map<string, () => void>();
    const read = (name: string) => () => {
      ran.push(name);
      return new Promise<string>((resolve) => ends.set(name, () => resolve(name)));
    };
    const end = async (name: string) => {
      await vi.waitFor(() => expect(ends.has(name)).toBe(true));
      ends.get(name)!();
    };
    return { ran, read, end };
  };

  it("run one at a time per viewer, in order; another viewer's run at once", async () => {
    const rateLimiter = limiter(0);
    const viewer = { userId: `scanner-${Date.now()}`, orgId: null };
    const { ran, read, end } = reads();
    const mine = Promise.all(['a', 'b', 'c'].map((name) => scan({ rateLimiter, viewer }, read(name))));
    const theirs = scan({ rateLimiter, viewer: { userId: `other-${Date.now()}`, orgId: null } }, read('other'));
    await end('other');
    expect(await theirs).toBe('other'); // while a runs
    expect(ran).toEqual(['a', 'other']);
    await end('a');
    await end('b');
    expect(ran).toEqual(['a', 'other', 'b']);
    await end('c');
    expect(await mine).toEqual(['a', 'b', 'c']);
  });

  it('cost a request each and one per 5 ms they took: past the limit, those waiting their turn are refused without running', async () => {
    const rateLimiter = limiter(12);
    const viewer = { userId: `scanner-${Date.now()}`, orgId: null };
    const { ran, read, end } = reads();
    const settled = Promise.allSettled(['long', 'next', 'last'].map((name) => scan({ rateLimiter, viewer }, read(name))));
    await new Promise((resolve) => setTimeout(resolve, 70)); // the first: a request, then 14 for its 70 ms
    await end('long');
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(ran).toEqual(['long']);
  });

  it('are what a totalCount that counts rows and a page filtered by role run as: each costs a request or more', async () => {
    // This file's app allows 5 requests a minute; a request with one scan costs two at least (more if it took
    // 5 ms or longer): of such requests two at most are served, where five were.
    const served = async (viewer: TestViewer, query: string) => {
      let ok = 0;
      while (ok < 6 && !(await t.request(query, {}, viewer)).body.errors) ok++;
      return ok;
    };
    const counted = await served(await t.viewer(), `{ conversations { totalCount } }`);
    expect(counted).toBeGreaterThanOrEqual(1);
    expect(counted).toBeLessThanOrEqual(2);

    const paging = await t.viewer();
    const c = await createConversation(t, paging);
    await t.gql(`mutation($c: ID!) { appendMessage(input: { conversationId: $c, role: USER, content: "x" }) { message { id } } }`, { c: c.id }, paging);
    // Two requests spent: then one served (3 and 4), where three were.
    expect(await served(paging, `{ conversations { edges { node { messages(roles: [USER]) { edges { node { id } } } } } } }`)).toBe(1);
  });

  it("in a subscription's events wait their turn but cost no request (the events' fields are counted already): an event is never refused", async () => {
    // This file's app allows 5 requests a minute: the subscription and the conversation take two.
    const viewer = await t.viewer();
    const server = await t.listen();
    const socket = wsClient(server, viewer);
    const c = await createConversation(t, viewer);
    const events = subscribe(socket, `subscription($c: ID!) { conversationEvents(conversationId: $c) { conversation { messages(roles: [USER]) { edges { node { id } } } } } }`, { c: c.id });
    // Events published here cost no request: the first one delivered says the subscription is open (the
    // server gives no other sign), however long a loaded machine takes to open it.
    const conversationId = Buffer.from(c.id, 'base64').toString().split(':')[1];
    const publish = () => t.app.services.pubsub.publish('conversation:events', conversationId, { type: 'CONVERSATION_UPDATED', conversationId, messageId: null });
    await vi.waitFor(() => (publish(), expect(events.results.length).toBeGreaterThan(0)), { timeout: 30_000, interval: 100 });
    // The viewer's requests spent: appends until one is refused.
    let refused = false;
    for (let i = 0; i < 6 && !refused; i++) {
      const { body } = await t.request(`mutation($c: ID!) { appendMessage(input: { conversationId: $c, role: USER, content: "x" }) { message { id } } }`, { c: c.id }, viewer);
      refused = body.errors?.[0]?.extensions?.code === 'RATE_LIMITED';
    }
    expect(refused).toBe(true);
    // The events of the appends that were served, and one more, each run its scan and are answered.
    const seen = events.results.length;
    publish();
    await vi.waitFor(() => expect(events.results.length).toBeGreaterThan(seen), { timeout: 30_000 });
    expect(events.results.flatMap((r) => r.errors ?? [])).toEqual([]);
    expect(events.results.at(-1)!.data!.conversationEvents.conversation.messages.edges.length).toBeGreaterThan(0);
    await socket.dispose();
  });

  it('of filtered pages are one per batch of pages: a list of conversations with their filtered pages is still two statements', async () => {
    const app = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '0' });
    try {
      const viewer = await app.viewer();
      for (let i = 0; i < 5; i++) {
        const c = await createConversation(app, viewer);
        await app.gql(`mutation($c: ID!) { appendMessage(input: { conversationId: $c, role: USER, content: "x" }) { message { id } } }`, { c: c.id }, viewer);
      }
      const query = `{ conversations { edges { node { messages(roles: [USER], first: 5) { edges { node { id } } } } } } }`;
      const { count } = await app.countQueries(async () => expect((await app.gql(query, {}, viewer)).conversations.edges).toHaveLength(5));
      expect(count).toBe(2);
    } finally {
      await app.close();
    }
  });
});
