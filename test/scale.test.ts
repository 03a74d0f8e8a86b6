// Scale-out: several server processes on PostgreSQL and Redis. Needs the machine's PostgreSQL and Redis;
// without them this file fails (it never skips). The test that restarts Redis runs its own redis-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeViewer, subscribe, waitFor, waitForMessage, waitForMessageStatus, wsClient, type TestViewer } from './helpers.ts';
import { startCluster, type Cluster, type Instance } from './cluster.ts';
import { startTestRedis } from './redis-server.ts';
import { startTcpProxy } from './tcp-proxy.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';

let vendor: FakeOpenAI;
let cluster: Cluster;
let a: Instance;
let b: Instance;
let c: Instance;
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `);

beforeAll(async () => {
  vendor = await startFakeOpenAI();
  cluster = await startCluster({
    OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
    OPENAI_COMPATIBLE_NAME: 'fake',
    OPENAI_COMPATIBLE_MODELS: 'slow',
    DEFAULT_MODEL: 'fake:slow',
    ECHO_DELAY_MS: '20',
  });
  [a, b, c] = await Promise.all([cluster.start('A'), cluster.start('B'), cluster.start('C')]);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  await vendor?.close();
});

const asServer = (instance: Instance) => ({ url: instance.url, port: 0, stopAccepting() {}, close: async () => {} });
const STREAM = `subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSequenceNumber: $after) {
  __typename sequenceNumber ... on MessageDelta { delta } ... on MessageCompleted { message { status content } } } }`;
const SEND = `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { assistantMessage { id } } }`;
const CREATE = `mutation { createConversation(input: {}) { conversation { id } } }`;
const MESSAGE = `query($id: ID!) { node(id: $id) { ... on Message { status content } } }`;

async function newConversation(instance: Instance, viewer: TestViewer): Promise<string> {
  return (await instance.gql(CREATE, {}, viewer)).createConversation.conversation.id;
}

async function streamFrom(instance: Instance, viewer: TestViewer, id: string, after?: number) {
  const client = wsClient(asServer(instance), viewer);
  const results = await subscribe(client, STREAM, { id, after }).all(30_000);
  await client.dispose();
  return results.map((r) => {
    expect(r.errors, JSON.stringify(r)).toBeUndefined();
    return r.data.messageStream;
  });
}

const waitForStatus = (instance: Instance, viewer: TestViewer, id: string, status: string, timeoutMs: number) =>
  waitForMessageStatus((q, v) => instance.gql(q, v, viewer), id, status, timeoutMs);
/** Until some of the reply's text is in the database (the runner writes it every 250 ms). */
const waitForStoredText = (instance: Instance, viewer: TestViewer, id: string) =>
  waitForMessage((q, v) => instance.gql(q, v, viewer), id, (node) => node.content.length > 0, 'to have stored text', 20_000);

describe('generation streams across instances', () => {
  it('send on A, stream from B from the middle: no gap, no duplicate', async () => {
    vendor.script('slow', { tokens: words(20), delayMs: 25 });
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const { assistantMessage } = (await a.gql(SEND, { c: conversation, t: 'go' }, viewer)).sendMessage;
    await new Promise((r) => setTimeout(r, 150));
    const tail = await streamFrom(b, viewer, assistantMessage.id, 3);
    expect(tail.at(-1).message).toEqual({ status: 'COMPLETED', content: words(20).join('') });
    // Long finished, from C: the whole replay, of which B got exactly the part after event 3.
    const replay = await streamFrom(c, viewer, assistantMessage.id);
    expect(replay.map((e) => e.sequenceNumber)).toEqual(replay.map((_, i) => i));
    expect(replay.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('')).toBe(words(20).join(''));
    expect(tail.map(({ __typename, sequenceNumber, delta }) => ({ __typename, sequenceNumber, delta }))).toEqual(
      replay.slice(4).map(({ __typename, sequenceNumber, delta }) => ({ __typename, sequenceNumber, delta })),
    );
  });

  it("a tool call's events cross instances alike: sent on A, resumed on B from the middle of the call", async () => {
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const tools = [{ name: 'lookup', parameters: { type: 'object' } }];
    const send = `mutation($c: ID!, $t: String!, $tools: [ToolInput!]) { sendMessage(input: { conversationId: $c, content: $t, model: "builtin:echo", tools: $tools }) { assistantMessage { id } } }`;
    const { assistantMessage } = (await a.gql(send, { c: conversation, t: '/call lookup {"q": "a query long enough for several pieces"}', tools }, viewer)).sendMessage;
    const TOOL_STREAM = `subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSequenceNumber: $after) {
      __typename sequenceNumber ... on MessageToolCallDelta { argumentsDelta } ... on MessageToolCall { toolCall { name arguments } } } }`;
    const all = async (instance: Instance, after?: number) => {
      const client = wsClient(asServer(instance), viewer);
      const results = (await subscribe(client, TOOL_STREAM, { id: assistantMessage.id, after }).all(30_000)).map((r) => r.data.messageStream);
      await client.dispose();
      return results;
    };
    const whole = await all(c);
    const pieces = whole.filter((e) => e.__typename === 'MessageToolCallDelta');
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.map((e) => e.argumentsDelta).join('')).toBe('{"q": "a query long enough for several pieces"}');
    const middle = pieces[1].sequenceNumber;
    expect(await all(b, middle)).toEqual(whole.slice(middle + 1));
  });

  it('cancel on B stops the generation running on A and aborts its upstream request', async () => {
    vendor.script('slow', { tokens: words(500), delayMs: 20 });
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const { assistantMessage } = (await a.gql(SEND, { c: conversation, t: 'long' }, viewer)).sendMessage;
    // The reply's request (not a title's: conversations without one are named after a reply), streaming.
    const replyRequest = () => vendor.requests.find((r) => JSON.stringify(r.body.messages.at(-1)).includes('"long"'));
    await waitFor(() => replyRequest() !== undefined, 'the reply request');
    await new Promise((r) => setTimeout(r, 300));
    const request = replyRequest()!;
    const started = Date.now();
    const { message } = (await b.gql(`mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { status content } } }`, { id: assistantMessage.id }, viewer))
      .cancelGeneration;
    expect(message.status).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(3000); // stopped by A, not finished by B's fallback after 5 s
    expect(await request.abortedByClient).toBe(true);
    expect(message.content.length).toBeGreaterThan(0);
    const events = await streamFrom(c, viewer, assistantMessage.id);
    expect(events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('')).toBe(message.content);
  });

  it('sidebar events cross instances', async () => {
    const viewer = await makeViewer();
    const client = wsClient(asServer(b), viewer);
    const sub = subscribe(client, `subscription { conversationsChanged { type conversation { title } } }`);
    await new Promise((r) => setTimeout(r, 300));
    await a.gql(`mutation { createConversation(input: { title: "made on A" }) { conversation { id } } }`, {}, viewer);
    const [event] = await sub.next(1);
    expect(event.data.conversationsChanged).toEqual({ type: 'CONVERSATION_CREATED', conversation: { title: 'made on A' } });
    await client.dispose();
  });
});

describe('consistency with writers on every instance', () => {
  it('keeps positions gapless and counters exact under concurrent appends through all instances', async () => {
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const instances = [a, b, c];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        instances[i % 3].gql(
          `mutation($c: ID!, $t: String!, $n: Int!) { appendMessage(input: { conversationId: $c, role: USER, content: $t, tokens: $n }) { message { id } } }`,
          { c: conversation, t: `m${i}`, n: i },
          viewer,
        ),
      ),
    );
    const data = await b.gql(`query($id: ID!) { conversation(id: $id) { messageCount totalTokens messages(first: 100) { edges { node { position } } } } }`, { id: conversation }, viewer);
    expect(data.conversation.messages.edges.map((e: any) => e.node.position)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(data.conversation).toMatchObject({ messageCount: 60, totalTokens: (60 * 59) / 2 });
  });

  it('holds idempotency keys and version checks across instances', async () => {
    const viewer = await makeViewer();
    const created = await Promise.all([a, b, c].map((instance) => instance.gql(`mutation { createConversation(input: { idempotencyKey: "k1", title: "once" }) { conversation { id } } }`, {}, viewer)));
    expect(new Set(created.map((d) => d.createConversation.conversation.id)).size).toBe(1);
    const id = created[0].createConversation.conversation.id;
    const updates = await Promise.all(
      [a, b, c].map((instance, i) => instance.request(`mutation($id: ID!, $t: String!) { updateConversation(input: { id: $id, title: $t, expectedVersion: 1 }) { conversation { version } } }`, { id, t: `t${i}` }, viewer)),
    );
    expect(updates.filter((u) => !u.body.errors)).toHaveLength(1);
    expect(updates.filter((u) => u.body.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(2);
  });

  it.each(['REJECT', 'INTERRUPT'])('repeats of one send (%s) on every instance at once all get the first result, and its reply runs to its end', async (policy) => {
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const input = { conversationId: conversation, content: 'one two three', model: 'builtin:echo', idempotencyKey: `everywhere-${policy}`, onActiveGeneration: policy };
    const SEND_INPUT = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } assistantMessage { id } } }`;
    const answers = await Promise.all([a, b, c, a, b, c].map((instance) => instance.request(SEND_INPUT, { input }, viewer)));
    expect(answers.map(({ body }) => body.errors?.[0]?.extensions?.code ?? 'ok')).toEqual(Array(6).fill('ok'));
    expect(new Set(answers.map(({ body }) => JSON.stringify(body.data.sendMessage))).size).toBe(1);
    const reply = answers[0].body.data.sendMessage.assistantMessage.id;
    // None of the repeats, on whichever instance, interrupted it.
    expect(await waitForStatus(c, viewer, reply, 'COMPLETED', 20_000)).toMatchObject({ content: 'one two three' });
    expect((await b.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: conversation }, viewer)).conversation.messageCount).toBe(2);
  });

  it('keeps the tree whole when every instance adds siblings under one message, and a switch on one is seen on another', async () => {
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const APPEND = `mutation($c: ID!, $t: String!, $p: ID) { appendMessage(input: { conversationId: $c, role: USER, content: $t, parentMessageId: $p }) { message { id position } } }`;
    const root = (await a.gql(APPEND, { c: conversation, t: 'root' }, viewer)).appendMessage.message.id;
    const instances = [a, b, c];
    const siblings = await Promise.all(
      Array.from({ length: 30 }, (_, i) => instances[i % 3].gql(APPEND, { c: conversation, t: `s${i}`, p: root }, viewer)),
    );
    expect(siblings.map((s) => s.appendMessage.message.position)).toEqual(Array(30).fill(2));

    const client = wsClient(asServer(c), viewer);
    const events = subscribe(client, `subscription($id: ID!) { conversationEvents(conversationId: $id) { type conversation { version currentMessage { content } } } }`, { id: conversation });
    await new Promise((r) => setTimeout(r, 300));
    const first = siblings.map((s) => s.appendMessage.message.id).sort()[0];
    await a.gql(`mutation($m: ID!) { switchBranch(input: { messageId: $m }) { conversation { id } } }`, { m: first }, viewer);
    const chosen = (await b.gql(`query($id: ID!) { node(id: $id) { ... on Message { content } } }`, { id: first }, viewer)).node.content;
    const [event] = await events.next(1);
    expect(event.data.conversationEvents).toEqual({ type: 'CONVERSATION_UPDATED', conversation: { version: 2, currentMessage: { content: chosen } } });
    await client.dispose();

    const read = await b.gql(
      `query($id: ID!) { conversation(id: $id) { messageCount messages(first: 10) { edges { node { content siblingCount } } } } }`,
      { id: conversation },
      viewer,
    );
    expect(read.conversation.messageCount).toBe(2);
    expect(read.conversation.messages.edges.map((e: any) => e.node)).toEqual([{ content: 'root', siblingCount: 1 }, { content: chosen, siblingCount: 30 }]);
    const indexes = await Promise.all(
      siblings.map((s) => b.gql(`query($id: ID!) { node(id: $id) { ... on Message { siblingIndex } } }`, { id: s.appendMessage.message.id }, viewer)),
    );
    expect(indexes.map((r) => r.node.siblingIndex).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});

describe('lifecycle', () => {
  it('/health is live and /ready checks the database and Redis', async () => {
    expect((await fetch(new URL('/health', a.url))).status).toBe(200);
    const ready = await fetch(new URL('/ready', a.url));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { database: true, redis: true, accepting: true } });
  });

  it('on SIGTERM lets a short generation finish, closes WebSockets with 1001 and exits 0', async () => {
    const d = await cluster.start('D', { SHUTDOWN_GRACE_MS: '5000' });
    vendor.script('slow', { tokens: words(15), delayMs: 40 });
    const viewer = await makeViewer();
    const conversation = await newConversation(d, viewer);
    const { assistantMessage } = (await d.gql(SEND, { c: conversation, t: 'finish me' }, viewer)).sendMessage;
    let closeCode = 0;
    const client = wsClient(asServer(d), viewer, { onClose: (code) => (closeCode = code) });
    const sub = subscribe(client, STREAM, { id: assistantMessage.id });
    await sub.next(2);
    d.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(new URL('/ready', a.url))).status).toBe(200); // the others go on
    // While it drains, it starts nothing new, and says so in a way a client can retry elsewhere.
    const refused = await subscribe(client, SEND, { c: conversation, t: 'one more' }).all();
    expect(refused[0].errors?.[0]).toMatchObject({ message: 'This server is shutting down; retry the request', extensions: { code: 'INTERNAL_SERVER_ERROR', retryable: true } });
    const events = await sub.all(10_000);
    expect(events.at(-1)!.data.messageStream.message).toEqual({ status: 'COMPLETED', content: words(15).join('') });
    expect(await d.exited).toBe(0);
    expect(closeCode).toBe(1001);
    const stored = await a.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: conversation }, viewer);
    expect(stored.conversation.messageCount).toBe(2); // the refused send left nothing behind
  });

  it('on SIGTERM interrupts a generation that outlasts the grace period, keeping its text', async () => {
    const e = await cluster.start('E', { SHUTDOWN_GRACE_MS: '300' });
    vendor.script('slow', { tokens: words(300), delayMs: 20 });
    const viewer = await makeViewer();
    const conversation = await newConversation(e, viewer);
    const { assistantMessage } = (await e.gql(SEND, { c: conversation, t: 'too long' }, viewer)).sendMessage;
    await waitForStoredText(a, viewer, assistantMessage.id);
    e.process.kill('SIGTERM');
    expect(await e.exited).toBe(0);
    const message = (await a.gql(MESSAGE, { id: assistantMessage.id }, viewer)).node;
    expect(message.status).toBe('INTERRUPTED');
    expect(message.content.length).toBeGreaterThan(0);
    // Its stream, read on another instance, ends with the terminal event.
    const events = await streamFrom(b, viewer, assistantMessage.id);
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'INTERRUPTED', content: message.content } });
    expect(events.filter((x) => x.__typename === 'MessageDelta').map((x) => x.delta).join('')).toBe(message.content);
  });

  /** A long generation on a new instance, killed (SIGKILL) once some of its text is stored. */
  async function orphanedGeneration(name: string) {
    const instance = await cluster.start(name);
    vendor.script('slow', { tokens: words(3000), delayMs: 20 });
    const viewer = await makeViewer();
    const conversation = await newConversation(instance, viewer);
    const { assistantMessage } = (await instance.gql(SEND, { c: conversation, t: 'orphan' }, viewer)).sendMessage;
    const stored = await waitForStoredText(a, viewer, assistantMessage.id); // what a crash must keep
    instance.process.kill('SIGKILL');
    await instance.exited;
    return { viewer, conversation, assistantMessage, stored };
  }

  it('cancel of a generation whose instance was killed finishes it where it was asked, with the stored text', async () => {
    const { viewer, conversation, assistantMessage, stored } = await orphanedGeneration('G');
    // Nobody runs it any more: A waits for an answer to its cancel request, then finishes it itself.
    const { message } = (await a.gql(`mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { status content } } }`, { id: assistantMessage.id }, viewer))
      .cancelGeneration;
    expect(message.status).toBe('CANCELLED');
    expect(message.content.startsWith(stored.content)).toBe(true);
    const events = await streamFrom(b, viewer, assistantMessage.id);
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'CANCELLED', content: message.content } });
    const { node } = await a.gql(`query($id: ID!) { node(id: $id) { ... on Conversation { activeGeneration { id } } } }`, { id: conversation }, viewer);
    expect(node.activeGeneration).toBeNull();
  }, 30_000);

  it('a generation of a killed instance is finished as INTERRUPTED by the others once its heartbeat is stale', async () => {
    const { viewer, assistantMessage } = await orphanedGeneration('F');
    const message = await waitForStatus(a, viewer, assistantMessage.id, 'INTERRUPTED', 40_000);
    expect(message.content.length).toBeGreaterThan(0);
    // Its stream, still in Redis, ends too: followers on any instance get the terminal event.
    const events = await streamFrom(b, viewer, assistantMessage.id);
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'INTERRUPTED', content: message.content } });
  }, 60_000);

  it('an instance cut from PostgreSQL while Redis carries its stream: another finishes the reply, and its followers get that one end', async () => {
    const postgres = new URL(cluster.databaseUrl);
    const proxy = await startTcpProxy({ host: postgres.hostname, port: Number(postgres.port || 5432) });
    let cutOff: Instance | undefined;
    try {
      const throughProxy = new URL(cluster.databaseUrl);
      throughProxy.port = String(proxy.port);
      cutOff = await cluster.start('P', { DATABASE_URL: throughProxy.toString() });
      vendor.script('slow', { tokens: words(3000), delayMs: 20 });
      const viewer = await makeViewer();
      const { assistantMessage } = (await cutOff.gql(SEND, { c: await newConversation(cutOff, viewer), t: 'cut off' }, viewer)).sendMessage;
      await waitForStoredText(a, viewer, assistantMessage.id);
      const client = wsClient(asServer(b), viewer);
      const follower = subscribe(client, STREAM, { id: assistantMessage.id });
      await follower.next(5);
      proxy.cut(); // its runner streams on into Redis, up to the numbers it had reserved, and cannot write
      const recovered = await waitForStatus(a, viewer, assistantMessage.id, 'INTERRUPTED', 45_000); // its heartbeat went stale
      proxy.restore(); // its next write finds the reply finished: it stops, and adds no second end
      const events = (await follower.all(30_000)).map((r) => r.data.messageStream);
      await client.dispose();
      expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => events[0].sequenceNumber + i));
      expect(events.filter((e) => e.__typename === 'MessageCompleted')).toEqual([
        { __typename: 'MessageCompleted', sequenceNumber: events.at(-1).sequenceNumber, message: { status: 'INTERRUPTED', content: recovered.content } },
      ]);
      // A late reader on the cut-off instance itself reads the same end, and the row stays as recovery left it.
      const late = await streamFrom(cutOff, viewer, assistantMessage.id, events.at(-2).sequenceNumber);
      expect(late).toEqual([events.at(-1)]);
      expect((await cutOff.gql(MESSAGE, { id: assistantMessage.id }, viewer)).node).toEqual({ status: 'INTERRUPTED', content: recovered.content });
    } finally {
      cutOff?.process.kill('SIGKILL'); // it would go on beside the next tests on two cores
      await cutOff?.exited;
      await proxy.close();
    }
  }, 120_000);

  it('survives a Redis restart mid-stream: the stream goes on with no gap, nothing acknowledged is lost', async () => {
    // Instances of their own on a Redis of this test's own: the machine's Redis is never restarted.
    const redis = await startTestRedis();
    const [a, b, c] = await Promise.all(['RA', 'RB', 'RC'].map((name) => cluster.start(name, { REDIS_URL: redis.url })));
    vendor.script('slow', { tokens: words(120), delayMs: 25 });
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const { assistantMessage } = (await a.gql(SEND, { c: conversation, t: 'through a restart' }, viewer)).sendMessage;
    const client = wsClient(asServer(b), viewer);
    const sub = subscribe(client, STREAM, { id: assistantMessage.id });
    await sub.next(10);
    await redis.stop();
    await redis.start(); // empty: it keeps nothing on disk
    // While Redis is coming back, writes that do not need it still work.
    const during = await b.request(`mutation($c: ID!) { appendMessage(input: { conversationId: $c, role: TOOL, content: "x", toolCallId: "t" }) { message { position } } }`, { c: conversation }, viewer);
    expect(during.body.errors).toBeUndefined();
    const events = (await sub.all(60_000)).map((r) => r.data.messageStream);
    await client.dispose();
    expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
    const final = events.at(-1);
    expect(final.__typename).toBe('MessageCompleted');
    expect(events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('')).toBe(final.message.content);
    expect(final.message.content).toBe(words(120).join(''));
    const stored = await c.gql(`query($id: ID!) { conversation(id: $id) { messageCount messages(roles: [TOOL]) { totalCount } } }`, { id: conversation }, viewer);
    expect(stored.conversation).toEqual({ messageCount: 3, messages: { totalCount: 1 } });
    // And Redis-backed features work again: a fresh stream across instances.
    vendor.script('slow', { tokens: words(5), delayMs: 10 });
    const next = (await a.gql(SEND, { c: await newConversation(a, viewer), t: 'after' }, viewer)).sendMessage;
    expect((await streamFrom(c, viewer, next.assistantMessage.id)).at(-1).message.content).toBe(words(5).join(''));
    for (const instance of [a, b, c]) instance.process.kill('SIGKILL');
    await redis.stop();
  }, 90_000);

  it('replays a long finished stream to late readers at once, while another reader is attached', async () => {
    vendor.script('slow', { tokens: words(4_000), delayMs: 0 });
    const viewer = await makeViewer();
    const conversation = await newConversation(a, viewer);
    const { assistantMessage } = (await a.gql(SEND, { c: conversation, t: 'a long one' }, viewer)).sendMessage;
    await waitForStatus(a, viewer, assistantMessage.id, 'COMPLETED', 30_000);
    // Readers on B, together: eight batches of entries each, none of them live any more (a reader used to wait 5 s for each).
    const [first, second] = await Promise.all([streamFrom(b, viewer, assistantMessage.id), streamFrom(b, viewer, assistantMessage.id, 2)]);
    expect(first.map((e) => e.sequenceNumber)).toEqual(first.map((_, i) => i));
    expect(second.map((e) => e.sequenceNumber)).toEqual(first.slice(3).map((e) => e.sequenceNumber));
    expect(first.at(-1).message.content).toBe(words(4_000).join(''));
  }, 60_000);
});
