// Stored values (contents, reasoning, tool calls, metadata, system prompts, tools) are read apart from their
// rows and never past what one response may carry (src/stored-values.ts): a request that asks for more reads
// no more, however it asks (pages of many conversations, aliases of a list, nodes), and the fields past it
// are refused with the response's own limit.
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { ReadRows } from '../src/row-reads.ts';
import { MAX_EVENT_BYTES, MAX_RESPONSE_BYTES } from '../src/response-limits.ts';
import { GONE, StoredValues, WITHHELD } from '../src/stored-values.ts';
import { appendMessage, createConversation, startTestApp, subscribe, wsClient, type TestApp, type TestViewer } from './helpers.ts';

const TEXT = 100_000;
const MESSAGES = 30;
const CONVERSATIONS = 4;
/** A text of TEXT characters, one of its own. */
const text = (n: number) => `${n} `.repeat(TEXT).slice(0, TEXT);

let t: TestApp;
let viewer: TestViewer;
let conversationIds: string[];
let messageIds: string[];
/** Characters of text the app's reads through the driver have returned since the last reset. */
let read = 0;
/** Run before the next statement that reads stored values (a test's race). */
let beforeValuesRead: (() => Promise<unknown>) | null = null;

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_MB_PER_DAY: '0' });
  const services = t.app.services;
  const readRows = services.readRows;
  services.readRows = (async (query, options) => {
    if (query.text.includes('octet_length')) await beforeValuesRead?.();
    const rows = await readRows<Record<string, unknown>>(query, options);
    for (const row of rows) for (const value of Object.values(row)) if (typeof value === 'string') read += value.length;
    return rows;
  }) as ReadRows;
  viewer = await t.viewer();
  // 12 MB of contents: four conversations of 30 messages of 100,000 characters, each with a system prompt as long.
  conversationIds = [];
  messageIds = [];
  for (let c = 0; c < CONVERSATIONS; c++) {
    const { id } = await createConversation(t, viewer, { systemPrompt: text(1000 + c) });
    conversationIds.push(id);
    for (let m = 0; m < MESSAGES; m++) messageIds.push((await appendMessage(t, viewer, id, { content: text(c * MESSAGES + m) })).message.id);
  }
}, 120_000);
afterAll(() => t.close());

/** The response to `query`, and how many characters of text the server read for it. */
async function reading(query: string, variables: Record<string, unknown> = {}) {
  read = 0;
  const { body } = await t.request(query, variables, viewer);
  return { body, read };
}

const rowId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1];
const refusals = (body: { errors?: { message: string; extensions?: Record<string, unknown> }[] }) => body.errors ?? [];

it('a request for more text than a response carries reads no more than that: pages of many conversations', async () => {
  // Through the executor (the directive): src/sql-pages/ builds such a page in PostgreSQL, and gives up past 8 MB.
  const query = `{ conversations(first: ${CONVERSATIONS}) @include(if: true) { edges { node { id messages(first: ${MESSAGES}) { edges { node { id content } } } } } } }`;
  const { body, read } = await reading(query);
  expect(read).toBeLessThanOrEqual(MAX_RESPONSE_BYTES + 100_000); // the page's other columns, ids and the like
  expect(refusals(body).length).toBeGreaterThan(0);
  for (const error of refusals(body)) {
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error.message).toBe(`content: this response would hold more than ${MAX_RESPONSE_BYTES} bytes of stored text; ask for fewer`);
  }
});

it('aliases of a list read each stored value once, and no more than a response carries', async () => {
  // Thirty aliases of the conversations with their system prompts: 400 KB of them, thirty times over.
  const aliases = Array.from({ length: 30 }, (_, i) => `a${i}: conversations(first: ${CONVERSATIONS}) { edges { node { id systemPrompt } } }`).join(' ');
  const { body, read } = await reading(`{ ${aliases} }`);
  expect(read).toBeLessThanOrEqual(CONVERSATIONS * TEXT + 100_000);
  expect(refusals(body).length).toBeGreaterThan(0);
  expect(refusals(body)[0].message).toMatch(/^systemPrompt: this response would hold more than/);
});

it('pages asking for fewer texts than the limit answer them all, as they did', async () => {
  const query = `query($c: ID!) { conversation(id: $c) @include(if: true) { systemPrompt messages(first: 10) { edges { node { content metadata toolCalls reasoning } } } } }`;
  const { body, read } = await reading(query, { c: conversationIds[1] });
  expect(body.errors).toBeUndefined();
  expect(body.data.conversation.systemPrompt).toBe(text(1001));
  expect(body.data.conversation.messages.edges.map((e: any) => e.node)).toEqual(
    Array.from({ length: 10 }, (_, m) => ({ content: text(MESSAGES + m), metadata: {}, toolCalls: null, reasoning: null })),
  );
  expect(read).toBeLessThanOrEqual(11 * TEXT + 50_000); // its system prompt, and not the content of the row read to know that a next page exists
});

it('lists read the values their rows show, and only those: conversations, context windows', async () => {
  const conversations = await reading(`{ conversations(first: 2) { edges { node { systemPrompt } } } }`);
  expect(conversations.body.errors).toBeUndefined();
  const first = (value: string) => (value === text(Number(value.split(' ')[0])) ? Number(value.split(' ')[0]) : 'not whole');
  expect(conversations.body.data.conversations.edges.map((e: any) => first(e.node.systemPrompt))).toEqual([1003, 1002]);
  expect(conversations.read).toBeLessThanOrEqual(2 * TEXT + 50_000);
  const skipped = await reading(`query($c: ID!, $show: Boolean!) { conversation(id: $c) @include(if: true) { messages(first: 10) { edges { node { id content @include(if: $show) } } } } }`, { c: conversationIds[1], show: false });
  expect(skipped.body.errors).toBeUndefined();
  expect(skipped.body.data.conversation.messages.edges[0].node).toEqual({ id: expect.any(String) });
  expect(skipped.read).toBeLessThanOrEqual(50_000); // no content: a directive left it out
  const window = await reading(`query($c: ID!) { conversation(id: $c) { contextWindow(maxTokens: 1000000) { content } } }`, { c: conversationIds[0] });
  expect(window.body.errors).toBeUndefined();
  const shown = window.body.data.conversation.contextWindow.map((m: any) => first(m.content));
  expect(shown.length).toBeGreaterThan(2);
  // The system prompt, then the newest messages, whole.
  expect(shown).toEqual([1000, ...Array.from({ length: shown.length - 1 }, (_, i) => MESSAGES - shown.length + 1 + i)]);
  expect(window.read).toBeLessThanOrEqual((shown.length - 1) * TEXT + 50_000); // the contents of the messages it keeps, not of those it drops
});

it('nodes come without their stored values, which are read apart, within the limit', async () => {
  const ids = messageIds.slice(0, 100);
  const query = `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Message { id content } } }`;
  const { statements } = await t.countQueries(async () => {
    const { body } = await t.request(query, { ids }, viewer);
    expect(refusals(body).length).toBeGreaterThan(0); // 10 MB asked for
    expect(refusals(body)[0].message).toMatch(/^content: this response would hold more than/);
  });
  const nodeReads = statements.filter((sql) => /FROM "public"."Message"/.test(sql));
  expect(nodeReads.length, statements.join('\n')).toBeGreaterThan(0);
  for (const sql of nodeReads) expect(sql).not.toMatch(/"content"/);
  // One that fits is answered whole.
  const { body } = await t.request(query, { ids: ids.slice(0, 3) }, viewer);
  expect(body.errors).toBeUndefined();
  expect(body.data.nodes.map((n: any) => n.content)).toEqual([text(0), text(1), text(2)]);
});

it("an event's subscriptions of one viewer read its values once, each up to an event's limit: two showing 0.6 MB each get them, whichever reads first; one showing both is refused", async () => {
  const client = wsClient(await t.listen(), viewer);
  const events = (selection: string) => subscribe(client, `subscription($c: ID!) { conversationEvents(conversationId: $c) { conversation { ${selection} } } }`, { c: conversationIds[0] });
  const [oldest, newest] = ['first', 'last'].map((end) => `${end}: messages(${end}: 6) { edges { node { content } } }`);
  const all = [events(oldest), events(newest), events(`${oldest} ${newest}`)];
  try {
    // Each event is published here (no request); the one checked reaches all three, as they share its loaders.
    const conversationId = rowId(conversationIds[0]);
    const publish = () => t.app.services.pubsub.publish('conversation:events', conversationId, { type: 'CONVERSATION_UPDATED', conversationId, messageId: null });
    await vi.waitFor(() => (publish(), expect(Math.min(...all.map((s) => s.results.length))).toBeGreaterThan(0)), { timeout: 30_000, interval: 200 });
    // The events published meanwhile delivered: until the counts hold still for a second (a late one would add its reads).
    let seen: number[] = [];
    while (seen.join() !== all.map((s) => s.results.length).join()) {
      seen = all.map((s) => s.results.length);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    read = 0;
    publish();
    await vi.waitFor(() => expect(all.every((s, i) => s.results.length > seen[i])).toBe(true), { timeout: 30_000 });
    const [first, last, both] = all.map((s, i) => s.results[seen[i]]);
    const contents = (page: any) => page.edges.map((e: any) => e.node.content);
    expect(first.errors).toBeUndefined();
    expect(contents(first.data!.conversationEvents.conversation.first)).toEqual(Array.from({ length: 6 }, (_, m) => text(m)));
    expect(last.errors).toBeUndefined();
    expect(contents(last.data!.conversationEvents.conversation.last)).toEqual(Array.from({ length: 6 }, (_, m) => text(MESSAGES - 6 + m)));
    expect(read).toBeLessThanOrEqual(12 * TEXT + 100_000); // the twelve contents, once
    expect(both.errors?.length).toBeGreaterThan(0);
    for (const error of both.errors!) expect(error.message).toBe(`content: this response would hold more than ${MAX_EVENT_BYTES} bytes of stored text; ask for fewer`);
  } finally {
    await client.dispose();
  }
});

it('a message deleted between the read of its row and of its content answers NOT_FOUND for it', async () => {
  const owner = await t.viewer();
  const { id } = await createConversation(t, owner);
  const { message } = await appendMessage(t, owner, id, { content: 'soon gone' });
  beforeValuesRead = async () => {
    beforeValuesRead = null;
    await t.app.services.prisma.message.delete({ where: { id: rowId(message.id) } });
  };
  const { body } = await t.request(`query($id: ID!) { node(id: $id) { ... on Message { id content } } }`, { id: message.id }, owner);
  expect(beforeValuesRead).toBeNull(); // the race ran
  expect(body.errors?.map((e: any) => [e.path.join('.'), e.extensions.code])).toEqual([['node.content', 'NOT_FOUND']]);
});

/** A content's key by its message's global ID. */
const key = (globalId: string) => ({ table: 'Message' as const, column: 'content' as const, id: rowId(globalId) });

/** The app's reads, and the characters of stored text they have returned so far. */
function countingReads() {
  let characters = 0;
  const readRows = (async (query, options) => {
    const rows = await t.app.services.readRows<{ text: string | null }>(query, options);
    for (const row of rows) characters += row.text?.length ?? 0;
    return rows;
  }) as ReadRows;
  return { readRows, read: () => characters };
}

it("readers of one store each read within their own budget, take what another read as read, and all within the store's ceiling", async () => {
  const { readRows, read } = countingReads();
  const store = new StoredValues(readRows, 4 * TEXT);
  const [one, two, three] = [store.reader(2 * TEXT), store.reader(2 * TEXT), store.reader(2 * TEXT)];
  expect(await one.loadMany(messageIds.slice(0, 3).map(key))).toEqual([text(0), text(1), WITHHELD]);
  // Withheld from one reader, not from another with room for it; what one read is the other's without a read.
  expect(await two.loadMany(messageIds.slice(0, 3).map(key))).toEqual([text(0), text(1), text(2)]);
  expect(read()).toBe(3 * TEXT);
  expect(await one.load(key(messageIds[2]))).toBe(WITHHELD);
  // The store's ceiling: one more value, whatever a reader's budget leaves.
  expect(await three.loadMany(messageIds.slice(3, 6).map(key))).toEqual([text(3), WITHHELD, WITHHELD]);
  expect(read()).toBe(4 * TEXT);
  // Asked for by three readers at once: read once, by the first; what is past the first's budget, by one of the
  // others, once.
  const once = new StoredValues(readRows, 8 * TEXT);
  const [small, large, other] = [once.reader(TEXT), once.reader(4 * TEXT), once.reader(4 * TEXT)];
  const before = read();
  const asked = messageIds.slice(0, 2).map(key);
  expect(await Promise.all([small.loadMany(asked), large.loadMany(asked), other.loadMany(asked)])).toEqual([
    [text(0), WITHHELD],
    [text(0), text(1)],
    [text(0), text(1)],
  ]);
  expect(read() - before).toBe(2 * TEXT);
});

it('the loader reads batch after batch within one budget, in the order asked, and withholds the rest', async () => {
  const { readRows, read } = countingReads();
  const loader = new StoredValues(readRows, 8 * TEXT).reader(5 * TEXT);
  const first = await loader.loadMany(messageIds.slice(0, 3).map(key));
  expect(first).toEqual([text(0), text(1), text(2)]);
  // The next batch has room for two more: the third and those after it are withheld.
  const second = await loader.loadMany(messageIds.slice(3, 8).map(key));
  expect(second).toEqual([text(3), text(4), WITHHELD, WITHHELD, WITHHELD]);
  expect(read()).toBe(5 * TEXT);
  // What was read is kept: asked again, nothing is read.
  expect(await loader.load(key(messageIds[0]))).toBe(text(0));
  expect(read()).toBe(5 * TEXT);
  // Null values cost nothing, past the budget too; a row deleted since it was read is GONE.
  const other = new StoredValues(readRows, 8 * TEXT).reader(0);
  expect(await other.loadMany([key(messageIds[0]), { table: 'Message', column: 'reasoning', id: rowId(messageIds[0]) }, { table: 'Message', column: 'content', id: 'no-such-message' }])).toEqual([
    WITHHELD,
    null,
    GONE,
  ]);
});

it('a JSON null is null, not withheld; a batch that fails leaves the budget to the next', async () => {
  const id = rowId(messageIds[40]);
  await t.app.services.prisma.$executeRaw`UPDATE "Message" SET "toolCalls" = 'null'::jsonb WHERE "id" = ${id}`;
  let fail = true;
  const readRows = (async (query, options) => {
    if (fail) {
      fail = false;
      throw new Error('the database is away');
    }
    return t.app.services.readRows(query, options);
  }) as ReadRows;
  const loader = new StoredValues(readRows, 2 * TEXT).reader(2 * TEXT);
  await expect(loader.load({ table: 'Message', column: 'content', id })).rejects.toThrow('the database is away');
  expect(await loader.loadMany([{ table: 'Message', column: 'toolCalls', id }, { table: 'Message', column: 'content', id }])).toEqual([null, text(40)]);
});

it('no statement of a response reads a stored value with its row: loaders, links and context windows', async () => {
  const STORED_COLUMN = /"(content|reasoning|reasoningParts|toolCalls|metadata|systemPrompt|tools)"/;
  const withRows = (statements: string[]) => statements.filter((sql) => STORED_COLUMN.test(sql) && !sql.includes('octet_length'));
  const links = `query($c: ID!) { conversation(id: $c) @include(if: true) { metadata tools { name } currentMessage { content metadata toolCalls }
    messages(first: 5) { edges { node { parent { content } previousSibling { content } nextSibling { content } } } } } }`;
  const linked = await t.countQueries(async () => {
    const { body } = await t.request(links, { c: conversationIds[2] }, viewer);
    expect(body.errors).toBeUndefined();
    expect(body.data.conversation.currentMessage.content).toBe(text(2 * MESSAGES + MESSAGES - 1));
    expect(body.data.conversation.messages.edges[1].node.parent.content).toBe(text(2 * MESSAGES));
  });
  expect(withRows(linked.statements), linked.statements.join('\n')).toEqual([]);

  // SYSTEM messages are kept in a window whatever maxTokens is: a window reads them without their text too.
  const c = conversationIds[3];
  for (let i = 0; i < 3; i++) await appendMessage(t, viewer, c, { role: 'SYSTEM', content: text(9000 + i) });
  const window = await t.countQueries(async () => {
    const { body } = await t.request(`query($c: ID!) { conversation(id: $c) { contextWindow(maxTokens: 1) { role content } } }`, { c }, viewer);
    expect(body.errors).toBeUndefined();
    expect(body.data.conversation.contextWindow).toEqual([
      { role: 'SYSTEM', content: text(1003) }, // the conversation's system prompt
      ...[0, 1, 2].map((i) => ({ role: 'SYSTEM', content: text(9000 + i) })),
    ]);
  });
  // (The window reads its one conversation whole: its system prompt is what the window starts with.)
  const conversationRead = (sql: string) => /FROM "public"."Conversation"/.test(sql);
  expect(withRows(window.statements).filter((sql) => !conversationRead(sql)), window.statements.join('\n')).toEqual([]);
});
