// Limits one viewer meets before it can hold up others: IDs per nodes(), mutations per request, operations
// over a WebSocket (refused one by one, the socket kept), subscriptions per socket, sockets per viewer;
// tokens that expire on open sockets; rate limits while Redis is away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import http from 'node:http';
import WebSocket from 'ws';
import { createConversation, expectErrorCode, signToken, startTestApp, subscribe, waitFor, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import { startTestRedis, type TestRedis } from './redis-server.ts';
import { eventOfEntry } from '../src/streams/redis-entries.ts';
import type { RunningServer } from '../src/server.ts';

const EVENTS = `subscription($id: ID!) { conversationEvents(conversationId: $id) { type } }`;
const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

describe('per request', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '10' })));
  afterAll(() => t.close());

  it('takes at most 100 IDs in nodes()', async () => {
    const viewer = await t.viewer();
    const ids = (n: number) => Array.from({ length: n }, (_, i) => globalId('Conversation', `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`));
    expect((await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: ids(100) }, viewer)).nodes).toHaveLength(100);
    const { body } = await t.request(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: ids(101) }, viewer);
    expect(expectErrorCode(body, 'BAD_USER_INPUT').extensions!.fieldErrors).toEqual([{ field: 'ids', message: 'must be at most 100 IDs' }]);
  });

  it('counts every mutation of a request against the request limit, and runs none past it', async () => {
    const viewer = await t.viewer();
    const mutations = (n: number) => `mutation { ${Array.from({ length: n }, (_, i) => `c${i}: createConversation(input: {}) { conversation { id } }`).join('\n')} }`;
    expectErrorCode((await t.request(mutations(11), {}, viewer)).body, 'BAD_USER_INPUT'); // more than ten in one request
    await t.request('{ viewer { userId } }', {}, viewer); // 2 of 10 requests spent
    const response = await t.request(mutations(9), {}, viewer);
    expect(response.status).toBe(429);
    expectErrorCode(response.body, 'RATE_LIMITED');
    const other = await t.viewer();
    expect((await t.request(`mutation { a: createConversation(input: {}) { conversation { id } } b: createConversation(input: {}) { conversation { id } } }`, {}, other)).status).toBe(200);
    // Nothing of the refused request was created (the viewer's own limit is spent: look from the database).
    expect(await t.app.services.prisma.conversation.count({ where: { userId: viewer.userId } })).toBe(0);
  });
});

describe('replies streaming at once', () => {
  let t: TestApp;
  // No generation limit: some tests below send again and again until a place is free.
  beforeAll(async () => (t = await startTestApp({ MAX_STREAMING_REPLIES_PER_USER: '2', ECHO_DELAY_MS: '50', RATE_LIMIT_GENERATIONS_PER_MINUTE: '0' })));
  afterAll(() => t.close());

  const SEND = `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "${'word '.repeat(100)}" }) { assistantMessage { id } } }`;
  const COUNT = `query($id: ID!) { conversation(id: $id) { messageCount } }`;

  it('are at most MAX_STREAMING_REPLIES_PER_USER for one viewer: one more is refused, storing nothing, until one ends', async () => {
    const viewer = await t.viewer();
    const conversations = await Promise.all(Array.from({ length: 3 }, () => createConversation(t, viewer, { model: 'builtin:echo' })));
    const [first, second] = await Promise.all(conversations.slice(0, 2).map((c) => t.gql(SEND, { c: c.id }, viewer)));
    const refused = await t.request(SEND, { c: conversations[2].id }, viewer);
    expectErrorCode(refused.body, 'RATE_LIMITED');
    expect((await t.gql(COUNT, { id: conversations[2].id }, viewer)).conversation.messageCount).toBe(0);
    // Another viewer is not held by this one's replies.
    const other = await t.viewer();
    expect((await t.request(SEND, { c: (await createConversation(t, other, { model: 'builtin:echo' })).id }, other)).body.errors).toBeUndefined();
    // A reply that ends (cancelled here) gives its place back.
    await t.gql(`mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { status } } }`, { id: first.sendMessage.assistantMessage.id }, viewer);
    await waitFor(async () => !(await t.request(SEND, { c: conversations[2].id }, viewer)).body.errors, 'a place to be given back');
    await t.gql(`mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { status } } }`, { id: second.sendMessage.assistantMessage.id }, viewer);
  });

  it('a turn that INTERRUPTs one of them takes the place of the reply it stops', async () => {
    const viewer = await t.viewer();
    const conversations = await Promise.all(Array.from({ length: 2 }, () => createConversation(t, viewer, { model: 'builtin:echo' })));
    await Promise.all(conversations.map((c) => t.gql(SEND, { c: c.id }, viewer)));
    const INTERRUPT = `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "again", onActiveGeneration: INTERRUPT }) { assistantMessage { id } } }`;
    expect((await t.request(INTERRUPT, { c: conversations[0].id }, viewer)).body.errors).toBeUndefined();
  });

  describe('a turn that INTERRUPTs one of them, while the stopped reply gives its place back late', () => {
    const INTERRUPT = `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "again", onActiveGeneration: INTERRUPT }) { assistantMessage { id } } }`;
    /** Holds back `ended` (a stopped reply's place given back, as stop.ts waits for it) until `open`. */
    function lateEnds() {
      const runner = t.app.services.generation;
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      runner.ended = (messageId: string) => Object.getPrototypeOf(runner).ended.call(runner, messageId).then(() => gate);
      return { open, restore: () => delete (runner as { ended?: unknown }).ended };
    }
    const messageCount = async (viewer: TestViewer, id: string) => (await t.gql(COUNT, { id }, viewer)).conversation.messageCount;

    it('waits for the place before it stores its own', async () => {
      const viewer = await t.viewer();
      const conversations = await Promise.all(Array.from({ length: 2 }, () => createConversation(t, viewer, { model: 'builtin:echo' })));
      await Promise.all(conversations.map((c) => t.gql(SEND, { c: c.id }, viewer)));
      const late = lateEnds();
      try {
        let answered = false;
        const turn = t.request(INTERRUPT, { c: conversations[0].id }, viewer).finally(() => (answered = true));
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(answered, 'answered before the stopped reply gave its place back').toBe(false);
        expect(await messageCount(viewer, conversations[0].id)).toBe(2); // its message is not stored yet
        late.open();
        expect((await turn).body.errors).toBeUndefined();
        expect(await messageCount(viewer, conversations[0].id)).toBe(4);
      } finally {
        late.restore();
      }
    });

    it('is refused with RATE_LIMITED, storing nothing, when another turn of the viewer took the place meanwhile', async () => {
      const viewer = await t.viewer();
      const conversations = await Promise.all(Array.from({ length: 3 }, () => createConversation(t, viewer, { model: 'builtin:echo' })));
      await Promise.all(conversations.slice(0, 2).map((c) => t.gql(SEND, { c: c.id }, viewer)));
      const late = lateEnds();
      try {
        const turn = t.request(INTERRUPT, { c: conversations[0].id }, viewer);
        // The stopped reply's place is free (its runner gave it back); the INTERRUPT has not stored its turn yet.
        await waitFor(async () => !(await t.request(SEND, { c: conversations[2].id }, viewer)).body.errors, 'another turn to take the freed place');
        late.open();
        expectErrorCode((await turn).body, 'RATE_LIMITED');
        expect(await messageCount(viewer, conversations[0].id)).toBe(2); // the stopped reply and its question alone
      } finally {
        late.restore();
      }
    });
  });

  it('a reply that cannot start (its event log refuses to open) gives its place back', async () => {
    const viewer = await t.viewer();
    const { eventLog } = t.app.services;
    const open = eventLog.open;
    eventLog.open = () => Promise.reject(new Error('the event log is away'));
    try {
      for (let i = 0; i < 2; i++) {
        expectErrorCode((await t.request(SEND, { c: (await createConversation(t, viewer, { model: 'builtin:echo' })).id }, viewer)).body, 'INTERNAL_SERVER_ERROR');
      }
    } finally {
      eventLog.open = open;
    }
    // Both places are free again: two replies start.
    for (let i = 0; i < 2; i++) {
      expect((await t.request(SEND, { c: (await createConversation(t, viewer, { model: 'builtin:echo' })).id }, viewer)).body.errors).toBeUndefined();
    }
  });

  it('a turn that starts no reply (a retry, a refusal) holds no place', async () => {
    const viewer = await t.viewer();
    const [c1, c2] = await Promise.all([createConversation(t, viewer, { model: 'builtin:echo' }), createConversation(t, viewer, { model: 'builtin:echo' })]);
    const KEYED = `mutation($c: ID!, $k: String) { sendMessage(input: { conversationId: $c, content: "${'word '.repeat(100)}", idempotencyKey: $k }) { assistantMessage { id } } }`;
    await t.gql(KEYED, { c: c1.id, k: 'once' }, viewer);
    for (let i = 0; i < 5; i++) expect((await t.request(KEYED, { c: c1.id, k: 'once' }, viewer)).body.errors).toBeUndefined(); // replayed
    for (let i = 0; i < 5; i++) expectErrorCode((await t.request(KEYED, { c: c1.id, k: null }, viewer)).body, 'GENERATION_IN_PROGRESS');
    expect((await t.request(KEYED, { c: c2.id, k: null }, viewer)).body.errors).toBeUndefined(); // the second place
  });
});

describe('over a WebSocket', () => {
  let t: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '6', WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '3', WS_MAX_SOCKETS_PER_USER: '2' });
    server = await t.listen();
  });
  afterAll(() => t.close());

  it('refuses an operation past the rate limit with RATE_LIMITED and keeps the socket and its subscriptions', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer); // 1 request
    let closed: number | null = null;
    const client = wsClient(server, viewer, { onClose: (code) => (closed = code) });
    const first = subscribe(client, EVENTS, { id: c.id }); // 2
    for (let i = 0; i < 4; i++) await subscribe(client, `subscription($id: ID!) { messageStream(messageId: $id) { sequenceNumber } }`, { id: globalId('Message', 'x') }).all(); // 3–6
    const refused = subscribe(client, EVENTS, { id: c.id }); // 7: over the limit
    await refused.all();
    const refusal = (refused.error as any[])?.[0] ?? refused.results[0]?.errors?.[0];
    expect(refusal?.extensions?.code).toBe('RATE_LIMITED');
    expect(refusal?.extensions?.retryAfter).toBeGreaterThan(0);
    expect(refusal?.extensions?.http).toBeUndefined(); // yoga's HTTP status and Retry-After header mean nothing here
    // The socket is open and its first subscription still delivers.
    t.app.services.pubsub.publish('conversation:events', Buffer.from(c.id, 'base64').toString().split(':')[1], { type: 'CONVERSATION_UPDATED', conversationId: 'x', messageId: null });
    expect((await first.next(1))[0].data.conversationEvents.type).toBe('CONVERSATION_UPDATED');
    expect(closed).toBeNull();
    await client.dispose();
  });

  /** A raw graphql-ws socket of `viewer`'s, acknowledged; `closed` settles with its close code. */
  async function rawSocket(viewer: { token: string }) {
    const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const received: { type: string; id?: string; payload?: any }[] = [];
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${viewer.token}` } })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data));
        received.push(message);
        if (message.type === 'connection_ack') resolve();
      });
      socket.on('error', reject);
    });
    /** Sends the messages in one write, so that the server reads them all before it answers any. */
    const sendAtOnce = (messages: object[]) => {
      (socket as unknown as { _socket: import('node:net').Socket })._socket.cork();
      for (const message of messages) socket.send(JSON.stringify(message));
      (socket as unknown as { _socket: import('node:net').Socket })._socket.uncork();
    };
    return { socket, received, closed, sendAtOnce };
  }
  const openSubscriptions = async () => Number(/^graphql_subscriptions (\d+)$/m.exec(await t.app.services.metrics.registry.metrics())?.[1]);

  it('closes a socket (4409) that subscribes with an id again while its first operation is being set up, and nothing of either runs on', async () => {
    const viewer = await t.viewer();
    const before = await openSubscriptions();
    const { closed, sendAtOnce } = await rawSocket(viewer);
    const subscribeX = { id: 'x', type: 'subscribe', payload: { query: 'subscription { conversationsChanged { type } }' } };
    sendAtOnce([subscribeX, { id: 'x', type: 'complete' }, subscribeX]);
    expect(await closed).toBe(4409);
    await waitFor(async () => (await openSubscriptions()) <= before, 'no subscription left open');
  });

  it('counts each 64 KiB of a message as one more request, before it is parsed; past the limit, a socket that does not wait is closed (4429)', async () => {
    const viewer = await t.viewer(); // 6 requests a minute
    const big = await rawSocket(viewer);
    // Over 7 × 64 KiB: seven more requests than the operation's own, charged as the message comes.
    big.sendAtOnce([{ id: 'a', type: 'subscribe', payload: { query: '{ __typename }', variables: { pad: 'p'.repeat(7 * 64 * 1024) } } }]);
    expect(await big.closed).toBe(4429);

    const other = await t.viewer();
    const small = await rawSocket(other);
    const query = (id: string) => ({ id, type: 'subscribe', payload: { query: '{ __typename }', variables: { pad: 'p'.repeat(2_000) } } });
    for (let i = 0; i < 6; i++) {
      small.sendAtOnce([query(`q${i}`)]);
      await waitFor(() => small.received.some((m) => m.id === `q${i}` && m.type === 'complete'), `answer ${i}`);
    }
    small.sendAtOnce([query('refused')]);
    await waitFor(() => small.received.some((m) => m.id === 'refused'), 'the seventh answered');
    expect(small.received.find((m) => m.id === 'refused')).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED' } }] });
    // A message of 1 KiB or less meanwhile is read, as before: refused, the socket kept.
    small.sendAtOnce([{ id: 'cheap', type: 'subscribe', payload: { query: '{ __typename }' } }]);
    await waitFor(() => small.received.some((m) => m.id === 'cheap'), 'the cheap one answered');
    expect(small.received.find((m) => m.id === 'cheap')).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED' } }] });
    // Told to wait, it sends a larger one at once: closed before its message is parsed.
    small.sendAtOnce([query('again')]);
    expect(await small.closed).toBe(4429);
    expect(small.received.some((m) => m.id === 'again')).toBe(false);
  });

  it('closes a socket whose messages of any kind (pongs of 200 KiB) put its viewer past the limit (4429)', async () => {
    const viewer = await t.viewer(); // 6 requests a minute: each pong counts 3 more
    const flooding = await rawSocket(viewer);
    for (let i = 0; i < 3; i++) flooding.sendAtOnce([{ type: 'pong', payload: { pad: 'p'.repeat(200 * 1024) } }]);
    expect(await flooding.closed).toBe(4429);
  });

  it('caps subscriptions per socket with a clear error, and frees a place when one ends', async () => {
    const t2 = await startTestApp({ WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '3' });
    const s2 = await t2.listen();
    try {
      const viewer = await t2.viewer();
      const c = await createConversation(t2, viewer);
      const client = wsClient(s2, viewer);
      const open = [subscribe(client, EVENTS, { id: c.id }), subscribe(client, EVENTS, { id: c.id }), subscribe(client, EVENTS, { id: c.id })];
      const subscribed = () => t2.app.services.pubsub.publish('conversation:events', Buffer.from(c.id, 'base64').toString().split(':')[1], { type: 'CONVERSATION_UPDATED', conversationId: 'x', messageId: null });
      await waitFor(() => (subscribed(), open.every((sub) => sub.results.length > 0)), 'three subscriptions open');
      const fourth = subscribe(client, EVENTS, { id: c.id });
      await fourth.all();
      const error = (fourth.error as any[])[0];
      expect(error.extensions.code).toBe('RATE_LIMITED');
      expect(error.message).toContain('at most 3');
      expect(error.extensions.http).toBeUndefined();
      open[0].dispose();
      // Its place is free once the server has ended it: a new one is then taken and delivers.
      let again = subscribe(client, EVENTS, { id: c.id });
      await waitFor(async () => {
        if (again.completed) again = subscribe(client, EVENTS, { id: c.id }); // refused: the place was not free yet
        subscribed();
        return again.results.length > 0;
      }, 'a fourth subscription after one ended');
      expect(again.error).toBeUndefined();
      await client.dispose();
    } finally {
      await t2.close();
    }
  });

  it('caps sockets per viewer with a clear close, leaving other viewers alone', async () => {
    const viewer = await t.viewer();
    const closes: [number, string][] = [];
    const clients = [0, 1, 2].map(() => wsClient(server, viewer, { onClose: (code, reason) => void closes.push([code, reason]) }));
    await waitFor(() => closes.length > 0, 'a connection refused');
    expect(closes).toEqual([[4429, 'Too many open connections for this user (at most 2)']]);
    const other = await t.viewer();
    const otherClient = wsClient(server, other, { onClose: (code) => void closes.push([code, 'other']) });
    expect((await subscribe(otherClient, '{ viewer { userId } }').all())[0].data.viewer.userId).toBe(other.userId);
    expect(closes).toHaveLength(1);
    for (const client of [...clients, otherClient]) await client.dispose();
  });

  it('closes a socket when its token expires (4403), ending its subscriptions', async () => {
    const token = await signToken({ sub: `user-expiring-${Date.now()}` }, { expiresIn: '2s' });
    const viewer = { userId: 'expiring', orgId: null, token };
    const c = await createConversation(t, viewer);
    let closed: number | null = null;
    const client = wsClient(server, viewer, { onClose: (code) => (closed = code) });
    const sub = subscribe(client, EVENTS, { id: c.id });
    await waitFor(() => closed !== null, 'the socket to close', 10_000);
    expect(closed).toBe(4403);
    expect(sub.completed).toBe(true);
    await client.dispose();
  });
});

describe('subscriptions over SSE', () => {
  let t: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    t = await startTestApp({ WS_MAX_SOCKETS_PER_USER: '2' });
    server = await t.listen();
  });
  afterAll(() => t.close());

  /** Opens an SSE subscription and reads its first chunk of text (or its whole body, if it ends). */
  async function openSse(token: string, query: string, variables: Record<string, unknown>) {
    const controller = new AbortController();
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    return { response, reader, close: () => controller.abort() };
  }

  it('count as connections of their viewer: past the cap, RATE_LIMITED', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const open = [await openSse(viewer.token, EVENTS, { id: c.id }), await openSse(viewer.token, EVENTS, { id: c.id })];
    await new Promise((resolve) => setTimeout(resolve, 100));
    const third = await openSse(viewer.token, EVENTS, { id: c.id });
    let text = '';
    for (;;) {
      const { done, value } = await third.reader.read();
      if (value) text += Buffer.from(value).toString();
      if (done || text.includes('RATE_LIMITED')) break;
    }
    expect(text).toContain('RATE_LIMITED');
    expect(third.response.status).toBe(429);
    // A chat past the cap is refused before its resolver runs: it stores no message and starts no reply.
    const chatting = await createConversation(t, viewer, { model: 'builtin:echo' });
    const chat = await openSse(viewer.token, `subscription($c: ID!) { chat(input: { conversationId: $c, content: "hi" }) { __typename } }`, { c: chatting.id });
    expect(chat.response.status).toBe(429);
    chat.close();
    const after = await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: chatting.id }, viewer);
    expect(after.conversation.messageCount).toBe(0);
    for (const sse of open) sse.close();
    third.close();

    // Every slot comes back: from subscriptions refused by their resolver (another viewer, with none open)…
    const fresh = await t.viewer();
    const missing = Buffer.from('Conversation:00000000-0000-7000-8000-000000000000').toString('base64');
    for (let i = 0; i < 3; i++) {
      const refused = await openSse(fresh.token, EVENTS, { id: missing });
      let body = '';
      for (;;) {
        const { done, value } = await refused.reader.read();
        if (value) body += Buffer.from(value).toString();
        if (done) break;
      }
      expect(body, body).toContain('NOT_FOUND');
    }
    const own = await createConversation(t, fresh);
    const both = [await openSse(fresh.token, EVENTS, { id: own.id }), await openSse(fresh.token, EVENTS, { id: own.id })];
    expect(both.map((sse) => sse.response.status)).toEqual([200, 200]);
    for (const sse of both) sse.close();
    // …and from subscriptions closed by their client.
    let again: Awaited<ReturnType<typeof openSse>>[] = [];
    await waitFor(async () => {
      for (const sse of again) sse.close();
      again = [await openSse(viewer.token, EVENTS, { id: c.id }), await openSse(viewer.token, EVENTS, { id: c.id })];
      return again.every((sse) => sse.response.status === 200);
    }, 'two subscriptions open again');
    for (const sse of again) sse.close();
  });

  it('end when their token expires', async () => {
    const token = await signToken({ sub: `sse-expiring-${Date.now()}` }, { expiresIn: '2s' });
    const c = await createConversation(t, { userId: 'x', orgId: null, token });
    const sse = await openSse(token, EVENTS, { id: c.id });
    let ended = false;
    const reading = (async () => {
      for (;;) if ((await sse.reader.read()).done) return void (ended = true);
    })();
    await waitFor(() => ended, 'the stream to end', 10_000);
    await reading;
  });
});

describe('rate limits while Redis is away', () => {
  let redis: TestRedis;
  let t: TestApp;
  const lines: string[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
    t = await startTestApp({ REDIS_URL: redis.url, RATE_LIMIT_REQUESTS_PER_MINUTE: '3' }, { log: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('are counted by each instance until Redis is back: neither open nor closed', async () => {
    const viewer = await t.viewer();
    await redis.stop();
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await t.request('{ viewer { userId } }', {}, viewer)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(lines.filter((line) => line.includes('rate limits are counted by each instance'))).toHaveLength(1);

    // Back: the count is shared in Redis again (a fresh viewer's request lands there).
    await redis.start();
    await waitFor(async () => (await t.app.readiness()).checks.redis === true, 'the app to reconnect to redis', 20_000);
    const other = await t.viewer();
    await waitFor(async () => (await t.request('{ viewer { userId } }', {}, other)).status === 200 && lines.some((line) => line.includes('counted in redis again')), 'the shared count', 20_000);
    const client = new Redis(redis.url);
    expect((await client.keys('chat:pace:requests:*')).some((key) => key.includes(other.userId))).toBe(true);
    client.disconnect();
  }, 60_000);
});

describe('a Redis that stops answering', () => {
  let redis: TestRedis;
  let t: TestApp;
  beforeAll(async () => {
    redis = await startTestRedis();
    t = await startTestApp({ REDIS_URL: redis.url, RATE_LIMIT_REQUESTS_PER_MINUTE: '3', ECHO_DELAY_MS: '20' });
  });
  afterAll(async () => {
    redis?.resume();
    await t?.close();
    await redis?.stop();
  });

  /** Runs `during` while Redis is paused: its connections stay open, and nothing answers. */
  async function whilePaused<T>(during: () => Promise<T>): Promise<T> {
    redis.pause();
    try {
      return await during();
    } finally {
      redis.resume();
    }
  }

  it('holds no request: rate limits are counted here meanwhile, and in Redis again after', async () => {
    const viewer = await t.viewer();
    const statuses = await whilePaused(async () => {
      const answered = [];
      for (let i = 0; i < 5; i++) answered.push((await t.request('{ viewer { userId } }', {}, viewer)).status);
      expect((await t.app.readiness()).checks.redis).toBe(false);
      return answered;
    });
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Back: a fresh viewer's requests are counted in Redis again.
    const other = await t.viewer();
    const client = new Redis(redis.url);
    await waitFor(async () => {
      await t.request('{ viewer { userId } }', {}, other);
      return (await client.keys('chat:pace:requests:*')).some((key) => key.includes(other.userId));
    }, 'the count shared in Redis again', 20_000);
    client.disconnect();
  }, 60_000);

  it("answers a cancel meanwhile: the stop's wait for the reply's end gives up on the log after a while", async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const send = `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "${'word '.repeat(500)}" }) { assistantMessage { id } } }`;
    const { assistantMessage } = (await t.gql(send, { c: c.id }, viewer)).sendMessage;
    // It waited on Redis for as long as Redis did not answer (and an INTERRUPT turn queued behind it too).
    const cancelled = await whilePaused(() => t.gql(`mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { status } } }`, { id: assistantMessage.id }, viewer));
    expect(cancelled.cancelGeneration.message.status).toBe('CANCELLED');
  }, 60_000);

  it("copies the events of a reply that ended meanwhile, its end included, once Redis answers again", async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const send = `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "one two three four five six seven eight nine ten" }) { assistantMessage { id } } }`;
    const { assistantMessage } = (await t.gql(send, { c: c.id }, viewer)).sendMessage;
    const rowId = Buffer.from(assistantMessage.id, 'base64').toString().split(':')[1];
    await whilePaused(async () => {
      const { prisma } = t.app.services;
      await waitFor(async () => (await prisma.message.findUniqueOrThrow({ where: { id: rowId } })).status === 'COMPLETED', 'the reply to end', 20_000);
      await new Promise((resolve) => setTimeout(resolve, 6000)); // every copy to Redis has timed out
    });
    const client = new Redis(redis.url);
    const last = async () => ((await client.xrevrange(`chat:generation:${rowId}`, '+', '-', 'COUNT', 1)) as [string, string[]][])[0];
    await waitFor(async () => {
      const entry = await last();
      return entry !== undefined && eventOfEntry(0, entry[1]).type === 'completed';
    }, 'the end of the stream in Redis', 20_000);
    client.disconnect();
  }, 60_000);
});

describe('origins', () => {
  let t: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    // The dev mode: no secret, so a request with no token acts as the local user.
    t = await startTestApp({ AUTH_JWT_SECRET: '', CORS_ORIGINS: 'http://app.example' });
    server = await t.listen();
  });
  afterAll(() => t.close());

  const post = (origin: string | null, query = 'mutation { createConversation(input: { title: "from a page" }) { conversation { id } } }') =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) }, body: JSON.stringify({ query }) });

  it('refuses a page of another origin, which can neither write nor read', async () => {
    const response = await post('http://evil.example');
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await response.json()) as any).errors[0].extensions.code).toBe('FORBIDDEN');
    const preflight = await fetch(server.url, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(await t.app.services.prisma.conversation.count({ where: { title: 'from a page' } })).toBe(0);
  });

  it('serves its own origin, a listed origin (with CORS headers) and clients that send none', async () => {
    expect((await post(new URL(server.url).origin)).status).toBe(200);
    const listed = await post('http://app.example');
    expect(listed.status).toBe(200);
    expect(listed.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(listed.headers.get('access-control-allow-credentials')).toBe('true');
    expect((await post(null)).status).toBe(200);
  });

  it('without AUTH_JWT_SECRET, answers only requests addressed to a loopback name (DNS rebinding)', async () => {
    const port = new URL(server.url).port;
    const rebound = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    }).catch(() => null);
    // fetch may not send the forged Host: a raw request does
    const raw = await new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/graphql', method: 'POST', headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, 'content-type': 'application/json' } }, (res) => resolve(res.statusCode!));
      req.end(JSON.stringify({ query: '{ viewer { userId } }' }));
    });
    expect(raw).toBe(403);
    expect(rebound === null || rebound.status === 403).toBe(true);
    expect((await post(null)).status).toBe(200); // addressed to 127.0.0.1
  });

  it('refuses a WebSocket from another origin, and takes one from a listed origin', async () => {
    const open = (origin: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(server.url.replace('http', 'ws'), 'graphql-transport-ws', { origin });
        socket.on('open', () => (socket.close(), resolve('open')));
        socket.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        socket.on('error', () => resolve('error'));
      });
    expect(await open('http://evil.example')).toBe('403');
    expect(await open('http://app.example')).toBe('open');
  });
});
