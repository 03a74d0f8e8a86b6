// Hostile values anywhere in a request get a code of the contract, never INTERNAL_SERVER_ERROR, and
// store nothing: NUL characters in any string, ids of unknown types or of no shape at all, cursors and
// dates that cannot exist, values nested without end, numbers beyond Int.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, startTestApp, subscribe, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { decodeGlobalId } from '../src/global-ids.ts';
import { MAX_JSON_VALUES } from '../src/input-guard.ts';

let t: TestApp;
let server: RunningServer;
let viewer: TestViewer;
let conversationId: string;
beforeAll(async () => {
  t = await startTestApp({ ECHO_DELAY_MS: '0' });
  server = await t.listen();
  viewer = await t.viewer();
  conversationId = (await createConversation(t, viewer, { model: 'builtin:echo' })).id;
});
afterAll(() => t.close());

const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const cursor = (...values: unknown[]) => Buffer.from(JSON.stringify(values)).toString('base64url');
/** JSON nested `depth` levels deep, as text: JSON.stringify itself would overflow the stack on it. */
class Nested {
  constructor(readonly depth: number) {}
  text() {
    return '{"a":['.repeat(this.depth) + '1' + ']}'.repeat(this.depth);
  }
}
const nested = (depth: number) => new Nested(depth);
/** The request body as text, with any Nested value spelled out. */
function body(query: string, variables: Record<string, unknown> = {}): string {
  const holes: string[] = [];
  const json = JSON.stringify({ query, variables }, (_key, value) => (value instanceof Nested ? `@@${holes.push(value.text()) - 1}@@` : value));
  return json.replace(/"@@(\d+)@@"/g, (_, i) => holes[Number(i)]);
}
async function request(query: string, variables?: Record<string, unknown>) {
  const response = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
    body: body(query, variables),
  });
  return { status: response.status, body: (await response.json()) as { errors?: { extensions?: Record<string, any> }[] } };
}
const NUL = 'a\u0000b';

type Case = [name: string, query: string, variables?: Record<string, unknown>];
const cases = (): Case[] => [
  // NUL in every kind of string
  ['NUL in content', `mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }`, { c: conversationId, t: NUL }],
  ['NUL in a content literal', `mutation($c: ID!) { appendMessage(input: { conversationId: $c, role: USER, content: "a\\u0000b" }) { message { id } } }`, { c: conversationId }],
  ['NUL in a title', `mutation($t: String) { createConversation(input: { title: $t }) { conversation { id } } }`, { t: NUL }],
  ['NUL in a system prompt', `mutation($t: String) { createConversation(input: { systemPrompt: $t }) { conversation { id } } }`, { t: NUL }],
  ['NUL in a metadata key', `mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { id } } }`, { m: { [NUL]: 1 } }],
  ['NUL in a metadata value', `mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { id } } }`, { m: { k: [NUL] } }],
  ['NUL in a search', `query($s: String) { conversations(filter: { search: $s }) { totalCount } }`, { s: NUL }],
  ['NUL in a project filter', `query($s: String) { conversations(filter: { projectId: $s }) { totalCount } }`, { s: NUL }],
  ['NUL in an idempotency key', `mutation($k: String) { createConversation(input: { idempotencyKey: $k }) { conversation { id } } }`, { k: NUL }],
  ['NUL in a tool call id', `mutation($c: ID!, $k: String) { appendMessage(input: { conversationId: $c, role: TOOL, content: "x", toolCallId: $k }) { message { id } } }`, { c: conversationId, k: NUL }],
  ['NUL in a model', `mutation($c: ID!, $m: String) { sendMessage(input: { conversationId: $c, content: "x", model: $m }) { assistantMessage { id } } }`, { c: conversationId, m: NUL }],
  ['NUL in an id', `query($id: ID!) { node(id: $id) { id } }`, { id: globalId('Conversation', NUL) }],
  ['NUL in a raw id', `query($id: ID!) { node(id: $id) { id } }`, { id: NUL }],
  // ids
  ['an id of an unknown type', `query($id: ID!) { node(id: $id) { id } }`, { id: globalId('Nope', '1') }],
  ['ids of unknown types', `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [globalId('Nope', '1'), globalId('Viewer', '2')] }],
  ['an id that is not one', `query($id: ID!) { conversation(id: $id) { id } }`, { id: '%%%not base64%%%' }],
  ['an empty id', `query($id: ID!) { node(id: $id) { id } }`, { id: '' }],
  ['a huge id', `query($id: ID!) { node(id: $id) { id } }`, { id: globalId('Conversation', 'x'.repeat(100_000)) }],
  ['a message id as a conversation', `query($id: ID!) { conversation(id: $id) { id } }`, { id: globalId('Message', 'x') }],
  ['an unknown type in sendMessage', `mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "x" }) { assistantMessage { id } } }`, { c: globalId('Nope', '1') }],
  // cursors
  ['a cursor of no shape', `query($a: String) { conversations(after: $a) { totalCount } }`, { a: 'garbage!' }],
  ['a cursor of another list', `query($a: String) { conversations(after: $a) { totalCount } }`, { a: cursor('messages', 3) }],
  ['a cursor time beyond any date', `query($a: String) { conversations(after: $a) { totalCount } }`, { a: cursor('conversations:UPDATED_AT_DESC', 1e20, 'x') }],
  ['a cursor time past year 9999', `query($a: String) { conversations(after: $a) { totalCount } }`, { a: cursor('conversations:UPDATED_AT_DESC', 8.64e15, 'x') }],
  ['a cursor id with NUL', `query($a: String) { conversations(before: $a) { totalCount } }`, { a: cursor('conversations:UPDATED_AT_DESC', 0, NUL) }],
  ['a cursor position beyond Int', `query($id: ID!, $a: String) { conversation(id: $id) { messages(after: $a) { totalCount } } }`, { id: conversationId, a: cursor('messages', 2 ** 40) }],
  // dates
  ...['2026-02-31T00:00:00Z', '2026-13-01T00:00:00Z', '2025-02-29T00:00:00Z', '2026-01-01T24:00:00Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', 'yesterday'].map(
    (date): Case => [`the date ${date}`, `query($d: DateTime) { conversations(filter: { updatedAfter: $d }) { totalCount } }`, { d: date }],
  ),
  ['a date literal that cannot exist', `{ conversations(filter: { updatedBefore: "2026-04-31T00:00:00Z" }) { totalCount } }`],
  // nesting
  ['metadata nested 10,000 deep', `mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { id } } }`, { m: nested(10_000) }],
  ['tool calls nested 10,000 deep', `mutation($c: ID!, $x: JSON) { appendMessage(input: { conversationId: $c, role: ASSISTANT, content: "", toolCalls: $x }) { message { id } } }`, { c: conversationId, x: nested(10_000) }],
  ['a literal nested 100 deep', `mutation { createConversation(input: { metadata: ${'{a:['.repeat(50)}1${']}'.repeat(50)} }) { conversation { id } } }`],
  ['a list literal nested 2,000 deep', `{ conversations(filter: { search: ${'['.repeat(2000)}"a"${']'.repeat(2000)} }) { totalCount } }`],
  // text that is not Unicode
  ['a lone surrogate in metadata', `mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { id } } }`, { m: { a: '\ud800' } }],
  ['a lone surrogate in content', `mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }`, { c: conversationId, t: 'x\udc00y' }],
  ['a lone surrogate in a metadata key', `mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { id } } }`, { m: { ['k\ud83d']: 1 } }],
  // costly fields multiplied
  ['contextWindow twice', `query($id: ID!) { conversation(id: $id) { a: contextWindow(maxTokens: 10) { id } b: contextWindow(maxTokens: 20) { id } } }`, { id: conversationId }],
  ['contextWindow in a list', `query($id: ID!) { conversation(id: $id) { messages(first: 5) { edges { node { conversation { contextWindow(maxTokens: 5) { id } } } } } } }`, { id: conversationId }],
  ['contextWindow of too many tokens', `query($id: ID!) { conversation(id: $id) { contextWindow(maxTokens: 1000001) { id } } }`, { id: conversationId }],
  ['a search twice', `{ a: conversations(filter: { search: "xy" }) { totalCount } b: conversations(filter: { search: "xz" }) { totalCount } }`],
  // numbers
  ['first beyond Int', `query($n: Int) { conversations(first: $n) { totalCount } }`, { n: 3_000_000_000 }],
  ['tokens beyond Int', `mutation($c: ID!, $n: Int) { appendMessage(input: { conversationId: $c, role: USER, content: "x", tokens: $n }) { message { id } } }`, { c: conversationId, n: 1e10 }],
  ['a float for an Int', `query($n: Int) { conversations(first: $n) { totalCount } }`, { n: 1.5 }],
  ['maxTokens beyond Int', `query($id: ID!) { conversation(id: $id) { contextWindow(maxTokens: 99999999999) { id } } }`, { id: conversationId }],
  ['expectedVersion beyond Int', `mutation($id: ID!) { updateConversation(input: { id: $id, title: "t", expectedVersion: 4294967296 }) { conversation { id } } }`, { id: conversationId }],
];

describe('over HTTP', () => {
  it.each(cases().map((c) => [c[0], c] as const))('%s: a contract code, never INTERNAL_SERVER_ERROR', async (_name, [, query, variables]) => {
    const { body } = await request(query, variables);
    const codes = (body.errors ?? []).map((e) => e.extensions?.code);
    expect(codes.length, JSON.stringify(body).slice(0, 500)).toBeGreaterThan(0);
    expect(codes, JSON.stringify(body).slice(0, 500)).not.toContain('INTERNAL_SERVER_ERROR');
    expect(codes.every((code) => code === 'BAD_USER_INPUT' || code === 'NOT_FOUND'), JSON.stringify(body).slice(0, 500)).toBe(true);
  });

  it('a body that is not JSON gets BAD_USER_INPUT, 400, and its text is not quoted back', async () => {
    const text = `{"query": "${'x'.repeat(100_000)}", not json`;
    const response = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
      body: text,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_USER_INPUT' } }] });
  });

  it('a body of more values than any input holds is refused before it is parsed; one of 10,000 is served', async () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i.toString(36)}`, i]));
    const post = (variables: unknown) =>
      t.app.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
        body: JSON.stringify({ query: '{ viewer { userId } }', variables }),
      });
    const refusal = { errors: [{ message: `The request body holds more than ${MAX_JSON_VALUES} values`, extensions: { code: 'BAD_USER_INPUT' } }] };
    const refused = await post({ x: keys(150_000) }); // an undeclared variable: served whole before
    expect(await refused.json()).toEqual(refusal);
    // Values that are lists within lists, few commas among them: 60 deep, MAX_JSON_VALUES / 60 of them.
    const chains = JSON.parse(`[${Array.from({ length: Math.ceil(MAX_JSON_VALUES / 60) }, () => `${'['.repeat(60)}${']'.repeat(60)}`).join(',')}]`);
    expect(await (await post({ x: chains })).json()).toEqual(refusal);
    const served = await post({ x: keys(10_000) });
    expect(served.status).toBe(200);
    expect(((await served.json()) as any).data).toEqual({ viewer: { userId: viewer.userId } });
  });

  it('names the field of a refused NUL and stores nothing', async () => {
    const before = await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: conversationId }, viewer);
    const { body } = await t.request(
      `mutation($c: ID!, $m: JSON) { appendMessage(input: { conversationId: $c, role: USER, content: "fine", metadata: $m }) { message { id } } }`,
      { c: conversationId, m: { notes: ['ok', NUL] } },
      viewer,
    );
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fieldErrors: [{ field: 'm.notes[1]' }] });
    expect(await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: conversationId }, viewer)).toEqual(before);
  });
});

describe('over WebSocket', () => {
  it.each([
    ['NUL in chat content', `subscription($c: ID!, $t: String!) { chat(input: { conversationId: $c, content: $t }) { sequenceNumber } }`, () => ({ c: conversationId, t: NUL })],
    ['an unknown type in messageStream', `subscription($id: ID!) { messageStream(messageId: $id) { sequenceNumber } }`, () => ({ id: globalId('Nope', '1') })],
    ['NUL in a conversationEvents id', `subscription($id: ID!) { conversationEvents(conversationId: $id) { type } }`, () => ({ id: globalId('Conversation', NUL) })],
    ['a list literal nested 2,000 deep', `subscription { conversationEvents(conversationId: ${'['.repeat(2000)}"a"${']'.repeat(2000)}) { type } }`, () => ({})],
    ['a document with two operations and no name', `subscription A { conversationsChanged { type } } subscription B { conversationsChanged { type } }`, () => ({})],
  ] as const)('%s: a contract code, and the socket stays open', async (_name, query, variables) => {
    let closed = false;
    const client = wsClient(server, viewer, { onClose: () => (closed = true) });
    const sub = subscribe(client, query, variables());
    const results = await sub.all();
    const errors = results.flatMap((r) => r.errors ?? []).concat(sub.error ? (sub.error as any[]) : []);
    expect(errors.map((e: any) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    // The same socket still serves.
    const ok = await subscribe(client, `subscription($id: ID!) { conversationEvents(conversationId: $id) { type } }`, { id: conversationId }).next(0, 200);
    expect(ok).toEqual([]);
    expect(closed).toBe(false);
    await client.dispose();
  });
});

describe('global IDs', () => {
  it('refuses one longer than any of this API before decoding it; the longest there can be is decoded', async () => {
    expect(decodeGlobalId(globalId('Conversation', 'x'.repeat(64)))).toEqual({ typename: 'Conversation', id: 'x'.repeat(64) });
    // Refused for its length, before it is decoded.
    expect(() => decodeGlobalId(globalId('Conversation', 'x'.repeat(80)))).toThrow('Invalid global ID (longer than any ID of this API)');
    // 2 MB of an ID given to 30 fields: refused as any bad ID.
    const forged = globalId('Message', ':'.repeat(1_500_000));
    const aliases = Array.from({ length: 30 }, (_, i) => `n${i}: node(id: $id) { id }`).join(' ');
    const { body } = await t.request(`query($id: ID!) { ${aliases} }`, { id: forged }, viewer);
    expect(body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('longer than any ID of this API') });
  });
});
