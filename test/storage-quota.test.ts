// What one viewer may keep stored (STORAGE_MB_PER_USER): past it their writes are refused, storing nothing,
// while reads, and the mutations that store nothing new (a purge makes room), go on; other viewers are not
// affected.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, expectErrorCode, startTestApp, subscribe, waitForMessageStatus, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import { loadConfig } from '../src/config.ts';

const QUOTA_MB = 0.05; // 52,428 bytes
/** 30,000 characters PostgreSQL cannot compress much: stored as about that many bytes. */
const incompressible = () => randomBytes(22_500).toString('base64');
const APPEND = `mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }`;

let t: TestApp;
beforeAll(async () => (t = await startTestApp({ STORAGE_MB_PER_USER: String(QUOTA_MB), ECHO_DELAY_MS: '0' })));
afterAll(() => t.close());

const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1];
const stored = (conversationId: string) => t.app.services.prisma.message.count({ where: { conversationId: rawId(conversationId) } });

/** A viewer with a conversation holding two 30,000-byte messages: past the quota. */
async function atQuota(): Promise<{ viewer: TestViewer; conversationId: string }> {
  const viewer = await t.viewer();
  const { id } = await createConversation(t, viewer);
  for (let i = 0; i < 2; i++) await t.gql(APPEND, { c: id, t: incompressible() }, viewer);
  return { viewer, conversationId: id };
}

describe('STORAGE_MB_PER_USER', () => {
  it('refuses a write once the viewer stores the quota (429 RATE_LIMITED), storing nothing; reads go on, and another viewer writes', async () => {
    const { viewer, conversationId } = await atQuota();
    const refused = await t.request(APPEND, { c: conversationId, t: 'one more' }, viewer);
    expect(refused.status).toBe(429);
    expectErrorCode(refused.body, 'RATE_LIMITED');
    expect(refused.body.errors![0].message).toContain('STORAGE_MB_PER_USER');
    expect(await stored(conversationId)).toBe(2);
    const created = await t.request(`mutation { createConversation(input: { title: "new" }) { conversation { id } } }`, {}, viewer);
    expectErrorCode(created.body, 'RATE_LIMITED');
    // A batch with one write in it is refused whole.
    const batch = await t.request(`mutation($c: ID!) { archiveConversation(input: { id: $c }) { conversation { id } } appendMessage(input: { conversationId: $c, role: USER, content: "x" }) { message { id } } }`, { c: conversationId }, viewer);
    expectErrorCode(batch.body, 'RATE_LIMITED');
    expect((await t.gql(`query($id: ID!) { conversation(id: $id) { status messages { totalCount } } }`, { id: conversationId }, viewer)).conversation).toEqual({ status: 'ACTIVE', messages: { totalCount: 2 } });

    const other = await t.viewer();
    await t.gql(APPEND, { c: (await createConversation(t, other)).id, t: incompressible() }, other);
  });

  it('lets the mutations that store nothing new through; a delete keeps the rows (restorable), a purge makes room at once', async () => {
    const { viewer, conversationId } = await atQuota();
    const ref = { c: conversationId };
    await t.gql(`mutation($c: ID!) { archiveConversation(input: { id: $c }) { conversation { id } } }`, ref, viewer);
    await t.gql(`mutation($c: ID!) { unarchiveConversation(input: { id: $c }) { conversation { id } } }`, ref, viewer);
    await t.gql(`mutation($c: ID!) { deleteConversation(input: { id: $c }) { conversation { id } } }`, ref, viewer);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // a refusal measures again, at most once a second
    expectErrorCode((await t.request(`mutation { createConversation(input: { title: "new" }) { conversation { id } } }`, {}, viewer)).body, 'RATE_LIMITED');
    await t.gql(`mutation($c: ID!) { purgeConversation(input: { id: $c }) { purgedConversationId } }`, ref, viewer);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { id } = await createConversation(t, viewer);
    await t.gql(APPEND, { c: id, t: 'room again' }, viewer);
  });

  it('measures what the database stores: rows written through another instance count', async () => {
    const viewer = await t.viewer();
    const { prisma } = t.app.services;
    const conversation = await prisma.conversation.create({ data: { userId: viewer.userId, model: 'builtin:echo', title: 'elsewhere' } });
    await prisma.message.create({ data: { conversationId: conversation.id, position: 1, role: 'USER', content: incompressible() + incompressible() } });
    const refused = await t.request(`mutation { createConversation(input: { title: "here" }) { conversation { id } } }`, {}, viewer);
    expectErrorCode(refused.body, 'RATE_LIMITED');
    expect(refused.body.errors![0].message).toMatch(/stores 0\.0[5-9] MB, the 0\.05 MB/);
  });

  it('counts the rows a write adds, not only its texts: empty conversations reach the quota too', async () => {
    const viewer = await t.viewer();
    const batch = Array.from({ length: 10 }, (_, i) => `c${i}: createConversation(input: {}) { conversation { id } }`).join(' ');
    let served = 0;
    while (served < 20 && !(await t.request(`mutation { ${batch} }`, {}, viewer)).body.errors) served++;
    // About 800 bytes a row with its index entries: some 65 conversations in 52,428 bytes (they were 8,000 and more).
    expect(served).toBeGreaterThanOrEqual(5);
    expect(served).toBeLessThanOrEqual(7);
  });

  it('refuses a fork whose copy would pass the quota, storing nothing', async () => {
    const viewer = await t.viewer();
    const { id } = await createConversation(t, viewer);
    const { message } = (await t.gql(APPEND, { c: id, t: incompressible() }, viewer)).appendMessage; // 30,000 of 52,428
    // A measure more than a second old: the fork's check must not measure again from inside its transaction
    // (on the embedded database that measure waited for the transaction, and the transaction for it: 30 s).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const fork = await t.request(`mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { id } } }`, { m: message.id }, viewer);
    expectErrorCode(fork.body, 'RATE_LIMITED');
    expect(fork.body.errors![0].message).toContain('with the 0.03 MB this would store');
    expect(await t.app.services.prisma.conversation.count({ where: { userId: viewer.userId } })).toBe(1);
  });

  it("counts a reply's text as it streams: the turn after the replies that reach the quota is refused", async () => {
    const viewer = await t.viewer();
    const { id } = await createConversation(t, viewer, { model: 'builtin:echo' });
    // builtin:echo replies with the message: each turn stores some 30,000 bytes, half of them the reply's.
    const words = () => incompressible().slice(0, 15_000).replace(/(.{50})/g, '$1 ');
    const send = (text: string) => t.request(`mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { assistantMessage { id } } }`, { c: id, t: text }, viewer);
    for (let turn = 0; turn < 2; turn++) {
      const { body } = await send(words());
      expect(body.errors).toBeUndefined();
      await waitForMessageStatus((q, v) => t.gql(q, v, viewer), body.data!.sendMessage.assistantMessage.id, 'COMPLETED');
    }
    // Counting what the turns were sent with alone (30,000 bytes), a third would have passed.
    expectErrorCode((await send(words())).body, 'RATE_LIMITED');
  });

  it('refuses a chat over a WebSocket, before its turn stores anything', async () => {
    const { viewer, conversationId } = await atQuota();
    const server = await t.listen();
    const client = wsClient(server, viewer);
    const chat = await subscribe(client, `subscription($c: ID!) { chat(input: { conversationId: $c, content: "hello" }) { __typename } }`, { c: conversationId }).all();
    expect(chat.flatMap((result) => result.errors ?? []).map((error) => error.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(await stored(conversationId)).toBe(2);
    await client.dispose();
  });

  it('answers a repeat of a write done (its idempotencyKey) with its first result at the quota, storing nothing; a new key is refused', async () => {
    const viewer = await t.viewer();
    const server = await t.listen();
    const CREATE = `mutation($k: String!) { createConversation(input: { title: "kept", idempotencyKey: $k }) { conversation { id } } }`;
    const conversationId = (await t.gql(CREATE, { k: 'create-1' }, viewer)).createConversation.conversation.id;
    const APPEND_KEYED = `mutation($c: ID!, $t: String!, $k: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t, idempotencyKey: $k }) { message { id } } }`;
    const SEND = `mutation($c: ID!, $k: String!) { sendMessage(input: { conversationId: $c, content: "hello", idempotencyKey: $k }) { assistantMessage { id } } }`;
    const text = incompressible();
    const appended = (await t.gql(APPEND_KEYED, { c: conversationId, t: text, k: 'append-1' }, viewer)).appendMessage.message.id;
    const sent = (await t.gql(SEND, { c: conversationId, k: 'send-1' }, viewer)).sendMessage.assistantMessage.id;
    await waitForMessageStatus((q, v) => t.gql(q, v, viewer), sent, 'COMPLETED');
    await t.gql(APPEND, { c: conversationId, t: incompressible() }, viewer); // past the quota now
    const before = await stored(conversationId);

    expectErrorCode((await t.request(APPEND_KEYED, { c: conversationId, t: text, k: 'append-2' }, viewer)).body, 'RATE_LIMITED');
    expect((await t.gql(APPEND_KEYED, { c: conversationId, t: text, k: 'append-1' }, viewer)).appendMessage.message.id).toBe(appended);
    expect((await t.gql(CREATE, { k: 'create-1' }, viewer)).createConversation.conversation.id).toBe(conversationId);
    expect((await t.gql(SEND, { c: conversationId, k: 'send-1' }, viewer)).sendMessage.assistantMessage.id).toBe(sent);
    // With the name of its type: still a repeat.
    expect((await t.gql(`mutation($c: ID!, $t: String!, $k: String!) { __typename appendMessage(input: { conversationId: $c, role: USER, content: $t, idempotencyKey: $k }) { message { id } } }`, { c: conversationId, t: text, k: 'append-1' }, viewer)).appendMessage.message.id).toBe(appended);
    // Two writes, one a repeat: refused whole.
    const both = await t.request(`mutation($c: ID!) {
      a: appendMessage(input: { conversationId: $c, role: USER, content: "x", idempotencyKey: "append-1" }) { message { id } }
      b: appendMessage(input: { conversationId: $c, role: USER, content: "x", idempotencyKey: "append-3" }) { message { id } } }`, { c: conversationId }, viewer);
    expectErrorCode(both.body, 'RATE_LIMITED');
    // `chat` keeps its turns as sendMessage does: its repeat follows the first reply to its end.
    const client = wsClient(server, viewer);
    const chat = await subscribe(client, `subscription($c: ID!) { chat(input: { conversationId: $c, content: "hello", idempotencyKey: "send-1" }) { __typename messageId } }`, { c: conversationId }).all();
    expect(chat.flatMap((result) => result.errors ?? [])).toEqual([]);
    expect(chat.at(-1)!.data!.chat).toEqual({ __typename: 'MessageCompleted', messageId: sent });
    const refusedChat = await subscribe(client, `subscription($c: ID!) { chat(input: { conversationId: $c, content: "hello", idempotencyKey: "send-2" }) { __typename } }`, { c: conversationId }).all();
    expect(refusedChat.flatMap((result) => result.errors ?? []).map((error) => error.extensions?.code)).toEqual(['RATE_LIMITED']);
    await client.dispose();
    expect(await stored(conversationId)).toBe(before);
  });

  it('is 1 GB by default, and 0 sets none', async () => {
    expect(loadConfig({}).storageBytesPerUser).toBe(1024 * 1024 * 1024);
    expect(loadConfig({ STORAGE_MB_PER_USER: '0' }).storageBytesPerUser).toBe(0);
    const unlimited = await startTestApp({ STORAGE_MB_PER_USER: '0' });
    try {
      const viewer = await unlimited.viewer();
      const { id } = await createConversation(unlimited, viewer);
      for (let i = 0; i < 3; i++) await unlimited.gql(APPEND, { c: id, t: incompressible() }, viewer);
    } finally {
      await unlimited.close();
    }
  });
});
