// Lists read only the columns their selection needs (src/schema/row-columns.ts), through the driver
// (src/row-reads.ts). Every field of Message and of Conversation, asked alone and all together, is answered
// through a list as it is through a whole row read by Prisma (node), interpreted and compiled; the
// statements name only the columns asked for.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getNamedType, isObjectType, type GraphQLField, type GraphQLObjectType } from 'graphql';
import { schema } from '../src/schema/index.ts';
import { appendMessage, createConversation, startTestApp, waitForMessageStatus, type TestApp, type TestViewer } from './helpers.ts';

// Not UTC, so that a time read in the process's zone instead of as stored (UTC) would show (Node takes
// a change of TZ at once; each test file runs in a process of its own).
process.env.TZ = 'America/New_York';

let t: TestApp;
let viewer: TestViewer;
let conversationId: string;
let messageIds: string[];

beforeAll(async () => {
  t = await startTestApp();
  viewer = await t.viewer();
  const gql = (query: string, variables: Record<string, unknown>) => t.gql(query, variables, viewer);
  // Every kind of row: a client's message with metadata, tool calls and their result, a generated reply
  // (model, usage, finish reason, completion time), in a conversation with settings of its own.
  const conversation = await createConversation(t, viewer, {
    title: 'columns',
    projectId: 'p1',
    agentId: 'a1',
    model: 'builtin:echo',
    systemPrompt: 'Be brief.',
    metadata: { colour: 'blue' },
    tools: [{ name: 'lookup', description: 'Looks up', parameters: { type: 'object', properties: {} } }],
  });
  conversationId = conversation.id;
  await appendMessage(t, viewer, conversationId, { content: 'first', metadata: { n: 1 }, tokens: 3 });
  const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{}' } }];
  await appendMessage(t, viewer, conversationId, { role: 'ASSISTANT', content: '', toolCalls });
  await appendMessage(t, viewer, conversationId, { role: 'TOOL', content: '{"found":true}', toolCallId: 'call_1' });
  const sent = await gql(`mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "one two three" }) { assistantMessage { id } } }`, { c: conversationId });
  await waitForMessageStatus(gql, sent.sendMessage.assistantMessage.id, 'COMPLETED');
  for (let i = 0; i < 3; i++) await createConversation(t, viewer, { title: `other ${i}`, metadata: { i } });
  const page = await gql(`query($c: ID!) { conversation(id: $c) { messages(first: 20) { edges { node { id } } } } }`, { c: conversationId });
  messageIds = page.conversation.messages.edges.map((edge: any) => edge.node.id);
  expect(messageIds).toHaveLength(5);
});
afterAll(() => t.close());

/** A selection of a field's value: scalars bare, objects with their scalar fields, lists of a connection by ids. */
function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const args = field.args.some((arg) => arg.name === 'maxTokens') ? '(maxTokens: 100000)' : '';
  const type = getNamedType(field.type);
  if (!isObjectType(type)) return `${field.name}${args}`;
  const fields = Object.values(type.getFields());
  if (fields.some((f) => f.name === 'edges')) return `${field.name}${args} { totalCount edges { cursor node { ... on Node { id } } } }`;
  const scalars = fields.filter((f) => !isObjectType(getNamedType(f.type)) && !f.args.some((arg) => arg.type.toString().endsWith('!')));
  return `${field.name}${args} { ${scalars.map((f) => f.name).join(' ')} }`;
}

// contextWindow is costly, once per request: a list can't ask it of each conversation (asked of one below).
const fieldsOf = (type: string) => Object.values((schema.getType(type) as GraphQLObjectType).getFields()).filter((field) => field.name !== 'contextWindow');
const selections = (type: string) => [...fieldsOf(type).map(selectionOf), fieldsOf(type).map(selectionOf).join(' ')];

/** Asked three times: the first run is interpreted, the later ones compiled; all must agree. */
async function thrice(query: string, variables: Record<string, unknown>) {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push((await t.request(query, variables, viewer)).body);
  expect(runs[1]).toEqual(runs[0]);
  expect(runs[2]).toEqual(runs[0]);
  expect(runs[0].errors).toBeUndefined();
  return runs[0].data;
}

it.each(selections('Message'))('answers Message { %s } through a page as through node', async (selection) => {
  const listed = await thrice(`query($c: ID!) { conversation(id: $c) { messages(first: 20) { edges { node { id ${selection} } } } } }`, { c: conversationId });
  const nodes = listed.conversation.messages.edges.map((edge: any) => edge.node);
  expect(nodes.map((node: any) => node.id)).toEqual(messageIds);
  for (const node of nodes) {
    const whole = await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { id ${selection} } } }`, { id: node.id }, viewer);
    expect(node).toEqual(whole.node);
  }
});

// node(id) reads through Prisma; conversation(id) and the list, through the driver.
it.each(selections('Conversation'))('answers Conversation { %s } through a list and conversation(id) as through node', async (selection) => {
  const listed = await thrice(`{ conversations(first: 10) { edges { node { id ${selection} } } } }`, {});
  const nodes = listed.conversations.edges.map((edge: any) => edge.node);
  expect(nodes).toHaveLength(4);
  for (const node of nodes) {
    const whole = await t.gql(`query($id: ID!) { node(id: $id) { ... on Conversation { id ${selection} } } }`, { id: node.id }, viewer);
    const one = await t.gql(`query($id: ID!) { conversation(id: $id) { id ${selection} } }`, { id: node.id }, viewer);
    expect(node).toEqual(whole.node);
    expect(one.conversation).toEqual(whole.node);
  }
});

it('reads only the columns a page asks for, whole rows for a field it does not know, and stored values apart', async () => {
  const messagesOf = (statements: string[]) => statements.filter((sql) => sql.includes('"branchLeafId"'));
  const conversationsOf = (statements: string[]) => statements.filter((sql) => /FROM ("public"\.)?"Conversation"/.test(sql));
  const storedValuesOf = (statements: string[]) => statements.filter((sql) => sql.includes('octet_length'));
  const STORED = /"content"|"reasoning"|"reasoningParts"|"metadata"|"toolCalls"|"systemPrompt"|"tools"|SELECT [cm]\.\*/;
  /** What a page's statement reads of each message (its inner SELECTs pick the rows). */
  const pageColumns = (sql: string) => /SELECT (m\.[^]*?) AS "branchLeafId"/.exec(sql)?.[1];
  // (The directive sends it to the executor: src/sql-pages/ answers such a page with one statement of its own.)
  const sidebar = `{ conversations(first: 10) @include(if: true) { edges { node { id title preview messages(first: 5) { edges { node { id role content } } } } } } }`;
  const lean = await t.countQueries(() => t.gql(sidebar, {}, viewer));
  expect(messagesOf(lean.statements), lean.statements.join('\n')).toHaveLength(1);
  expect(pageColumns(messagesOf(lean.statements)[0])).toContain('m."role"');
  expect(pageColumns(messagesOf(lean.statements)[0])).not.toMatch(STORED);
  expect(conversationsOf(lean.statements), lean.statements.join('\n')).toHaveLength(1);
  expect(conversationsOf(lean.statements)[0]).toContain('"title"');
  expect(conversationsOf(lean.statements)[0]).not.toMatch(STORED);
  // The messages' contents, in one statement of their own.
  expect(storedValuesOf(lean.statements), lean.statements.join('\n')).toHaveLength(1);
  expect(storedValuesOf(lean.statements)[0]).toContain('t."content"');

  // contextWindow reads the conversation's every setting: not listed, so whole rows, but for their stored
  // values (its system prompt: the field reads the conversation whole itself).
  const windowQuery = `{ conversations(first: 1) { edges { node { id contextWindow(maxTokens: 1000) { id content } } } } }`;
  let listed: any;
  const whole = await t.countQueries(async () => (listed = await t.gql(windowQuery, {}, viewer)));
  expect(conversationsOf(whole.statements)[0]).toContain('"systemPromptTokens"');
  expect(conversationsOf(whole.statements)[0]).not.toMatch(STORED);
  const { id } = listed.conversations.edges[0].node;
  const alone = await t.gql(`query($id: ID!) { conversation(id: $id) { id contextWindow(maxTokens: 1000) { id content } } }`, { id }, viewer);
  expect(listed.conversations.edges[0].node).toEqual(alone.conversation);
});

it('reads a list whole, and answers the conversations asked for below it from those rows', async () => {
  const conversationReads = (statements: string[]) => statements.filter((sql) => /FROM ("public"\.)?"Conversation"/.test(sql));
  for (const query of [
    `{ conversations(first: 10) { edges { node { id title currentMessage { id conversation { title } } } } } }`,
    `{ conversations(first: 10) { edges { node { id messages(first: 2) { edges { node { parent { conversation { title } } } } } } } } }`,
    `{ conversations(first: 10, filter: { search: "col" }) { totalCount edges { node { id currentMessage { conversation { title } } } } } }`,
  ]) {
    let data: any;
    const read = await t.countQueries(async () => (data = await t.gql(query, {}, viewer)));
    expect(data.conversations.edges.length).toBeGreaterThan(0);
    expect(conversationReads(read.statements), read.statements.join('\n')).toHaveLength(1);
  }
});

it('keeps tenancy: another viewer lists none of these rows, whatever the columns', async () => {
  const other = await t.viewer();
  const data = await t.gql(`{ conversations(first: 10) { edges { node { id title } } } }`, {}, other);
  expect(data.conversations.edges).toEqual([]);
  const page = await t.request(`query($c: ID!) { conversation(id: $c) { messages(first: 5) { edges { node { id content } } } } }`, { c: conversationId }, other);
  expect(page.body.data?.conversation).toBeNull();
});
