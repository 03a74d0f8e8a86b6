// Pages answered by one SQL statement (src/sql-pages/) answer exactly what the executor answers: each
// document below runs both ways (the executor's by a directive at its root field, which the planner leaves
// to it) on the same rows, and must give the same data and errors. Branches, cursors both ways, every
// order and filter, aliases, fragments, names, empty pages, another viewer's rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kind, parse, print, visit, type DocumentNode } from 'graphql';
import { ChatDocument, OlderMessagesDocument, SidebarDocument } from '../web/src/gql/graphql.ts';
import { createConversation, startTestApp, subscribe, waitForMessageStatus, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { Pool } from 'pg';
import { KeptStatements, poolReads } from '../src/row-reads.ts';
import { Prisma } from '../src/generated/prisma/client.ts';
import { planOf } from '../src/sql-pages/plan.ts';
import { statementOf, type PageStatement } from '../src/sql-pages/statement.ts';
import { KEPT_STATEMENT_CHARS, KEPT_STATEMENT_MAX_CHARS, statementCache } from '../src/sql-pages/statement-cache.ts';
import type { Plan } from '../src/sql-pages/plan.ts';
import { schema } from '../src/schema/index.ts';
import { createScratchDatabase } from './cluster.ts';

let t: TestApp;
let viewer: TestViewer;
let other: TestViewer;
const ids: Record<string, string> = {};

const APPEND = `mutation($c: ID!, $t: String!, $r: MessageRole!) { appendMessage(input: { conversationId: $c, role: $r, content: $t, tokens: 7 }) { message { id } } }`;
// Quotes, backslashes, control characters, an emoji, a line break: what JSON escapes, both ways.
const text = (i: number) => `message ${i}: "quoted" \\ \u0001 🙂\nline`;

beforeAll(async () => {
  t = await startTestApp({ ECHO_DELAY_MS: '0' });
  viewer = await t.viewer();
  other = await t.viewer();
  ids.empty = (await createConversation(t, viewer, { title: 'empty', projectId: 'p1' })).id;
  ids.short = (await createConversation(t, viewer, { title: 'x"y\\z', agentId: 'a1' })).id;
  for (let i = 0; i < 3; i++) await t.gql(APPEND, { c: ids.short, t: text(i), r: i % 2 ? 'ASSISTANT' : 'USER' }, viewer);
  ids.long = (await createConversation(t, viewer, { title: 'long', projectId: 'p1' })).id;
  const long: string[] = [];
  for (let i = 0; i < 12; i++) long.push((await t.gql(APPEND, { c: ids.long, t: text(i), r: i % 2 ? 'ASSISTANT' : 'USER' }, viewer)).appendMessage.message.id);
  // A second branch from the 7th message: the branch shown is the new one (positions 1–7, then the reply).
  const edited = await t.gql(`mutation($m: ID!) { editMessage(input: { messageId: $m, content: "edited" }) { assistantMessage { id } } }`, { m: long[6] }, viewer);
  await waitForMessageStatus((q, v) => t.gql(q, v, viewer), edited.editMessage.assistantMessage.id, 'COMPLETED');
  ids.edit = edited.editMessage.assistantMessage.id;
  ids.edited = long[6];
  // A reply with reasoning and tool calls, and one still STREAMING (its runner elsewhere, alive: not recovered).
  const { prisma } = t.app.services;
  const rawId = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1];
  await prisma.message.update({
    where: { id: rawId(long[5]) },
    data: { reasoning: 'thinking "aloud"', toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x","n":1}' } }], finishReason: 'TOOL_CALLS', model: 'm' },
  });
  // Times JSON writes short: no fraction, a fraction of one digit, a year before 1000.
  await prisma.message.update({ where: { id: rawId(long[0]) }, data: { createdAt: new Date('2026-01-31T12:00:00.000Z') } });
  await prisma.message.update({ where: { id: rawId(long[1]) }, data: { createdAt: new Date('0005-03-01T00:00:00.100Z'), completedAt: new Date('0999-12-31T23:59:59.990Z') } });
  await prisma.message.update({ where: { id: rawId(edited.editMessage.assistantMessage.id) }, data: { status: 'STREAMING', runnerId: 'elsewhere', heartbeatAt: new Date(Date.now() + 3_600_000), completedAt: null } });
  ids.archived = (await createConversation(t, viewer, { title: 'archived' })).id;
  await t.gql(`mutation($c: ID!) { archiveConversation(input: { id: $c }) { conversation { id } } }`, { c: ids.archived }, viewer);
  ids.others = (await createConversation(t, other, { title: 'not yours' })).id;
  await t.gql(APPEND, { c: ids.others, t: 'secret', r: 'USER' }, other);
});
afterAll(() => t.close());

/** Keys sorted: the executor puts a field that resolves asynchronously (an ID) after the others; the statement keeps the document's order. */
const canonical = (value: unknown): unknown =>
  Array.isArray(value) ? value.map(canonical) : value && typeof value === 'object' ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])])) : value;

const ONE_STATEMENT = /^SELECT CASE WHEN octet_length\(page\.data\)/;

/** `$D` marks a root field: empty for the statement, `@include(if: true)` for the executor. */
async function bothWays(document: string, variables: Record<string, unknown> = {}, as = viewer) {
  let statement: unknown;
  const fast = await t.countQueries(async () => (statement = (await t.request(document.replaceAll('$D', ''), variables, as)).body));
  let executed: unknown;
  const slow = await t.countQueries(async () => (executed = (await t.request(document.replaceAll('$D', '@include(if: true)'), variables, as)).body));
  return { statement, executed, fastStatements: fast.statements, slowStatements: slow.statements };
}

async function expectSame(document: string, variables: Record<string, unknown> = {}, as = viewer) {
  const { statement, executed, fastStatements, slowStatements } = await bothWays(document, variables, as);
  expect(fastStatements).toHaveLength(1);
  expect(fastStatements[0].trim()).toMatch(ONE_STATEMENT);
  expect(slowStatements.some((s) => ONE_STATEMENT.test(s.trim()))).toBe(false);
  expect((executed as { errors?: unknown }).errors).toBeUndefined();
  expect(canonical(statement)).toEqual(canonical(executed));
  return statement as { data: Record<string, any> };
}

const cursorOf = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');

const CONVERSATION = `id title status projectId agentId model version messageCount totalTokens preview lastMessageAt createdAt updatedAt archivedAt deletedAt __typename`;
const MESSAGE = `id position siblingIndex role content status model toolCallId isError finishReason tokens error createdAt completedAt __typename`;
const PAGE_INFO = `pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename }`;
/** Page info as asked: whole, then two ways that do not ask whether more rows come (the statement then reads none beyond the page). */
const PAGE_INFOS = [PAGE_INFO, `pageInfo { startCursor endCursor }`, ''];

describe('pages answered by one statement', () => {
  it("answers the benchmark's sidebar and branch pages as the executor does", async () => {
    const sidebar = await expectSame(`{ conversations(first: 20) $D { edges { node { id title messageCount preview lastMessageAt messages(first: 5) { edges { node { id position role content } } } } } } }`);
    expect(sidebar.data.conversations.edges.map((e: any) => e.node.title)).toEqual(['long', 'x"y\\z', 'empty']);
    const branch = await expectSame(`query($id: ID!) { conversation(id: $id) $D { messages(last: 50) { edges { node { id role content position status createdAt } } } } }`, { id: ids.long });
    // The branch shown: the first six messages, the edit, its reply.
    expect(branch.data.conversation.messages.edges.map((e: any) => e.node.content).slice(5)).toEqual([text(5), 'edited', 'edited']);
  });

  it("answers the web app's own documents (a name on every selection, as Apollo Client adds them)", async () => {
    const named = (document: DocumentNode) =>
      print(
        visit(document, {
          SelectionSet: (set, _key, parent) =>
            (parent as { kind?: string })?.kind === Kind.OPERATION_DEFINITION ? set : { ...set, selections: [...set.selections, { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } }] },
        }),
      ).replace(/(conversations?)\(/, '$1$D(').replace(/\$D\(([^)]*)\)/, '($1) $D');
    const sidebar = await expectSame(named(SidebarDocument), { first: 2 });
    await expectSame(named(SidebarDocument), { first: 2, after: sidebar.data.conversations.pageInfo.endCursor, filter: { status: ['ACTIVE', 'ARCHIVED'] } });
    expect(sidebar.data.conversations.edges[0].node.activeGeneration).toEqual({ id: ids.edit, __typename: 'Message' });
    const chat = await expectSame(named(ChatDocument), { id: ids.long });
    const messages = chat.data.conversation.messages.edges.map((e: any) => e.node);
    expect(messages[5].toolCalls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x","n":1}' } }]);
    expect(messages[6]).toMatchObject({ id: expect.any(String), siblingIndex: 2, siblingCount: 2, previousSibling: { id: ids.edited }, nextSibling: null });
    await expectSame(named(OlderMessagesDocument), { id: ids.long, before: chat.data.conversation.messages.pageInfo.startCursor });
    await expectSame(named(OlderMessagesDocument), { id: ids.long, before: cursorOf(['messages', 3]) });
  });

  it('answers every field planned, every order, first and last, cursors both ways, and page info', async () => {
    for (const orderBy of ['UPDATED_AT_DESC', 'UPDATED_AT_ASC', 'CREATED_AT_DESC', 'CREATED_AT_ASC', 'LAST_ACTIVITY_DESC']) {
      for (const page of ['first: 2', 'last: 2', 'first: 0', 'first: 100']) {
        const first = await expectSame(`query($o: ConversationOrder) { conversations(${page}, orderBy: $o) $D { __typename ${PAGE_INFO} edges { __typename cursor node { ${CONVERSATION} } } } }`, { o: orderBy });
        for (const info of PAGE_INFOS.slice(1)) await expectSame(`query($o: ConversationOrder) { conversations(${page}, orderBy: $o) $D { ${info} edges { cursor node { id } } } }`, { o: orderBy });
        const end = first.data.conversations.pageInfo.endCursor;
        if (!end) continue;
        const bound = page.startsWith('last') ? 'before' : 'after';
        for (const info of PAGE_INFOS) {
          await expectSame(`query($o: ConversationOrder, $c: String) { conversations(${page.replace('100', '1')}, ${bound}: $c, orderBy: $o) $D { ${info} edges { cursor node { id } } } }`, {
            o: orderBy,
            c: page.startsWith('last') ? first.data.conversations.pageInfo.startCursor : end,
          });
        }
      }
    }
    const cursors = { a: cursorOf(['messages', 2]), b: cursorOf(['messages', 6]) };
    for (const page of ['first: 3', 'last: 3', 'first: 3, after: $a', 'last: 3, before: $b', 'first: 100, after: $b', 'last: 0', 'first: 2, before: $b', 'last: 2, after: $a']) {
      const used = Object.entries(cursors).filter(([name]) => page.includes(`$${name}`));
      for (const info of PAGE_INFOS) {
        await expectSame(
          `query($id: ID!${used.map(([name]) => `, $${name}: String`).join('')}) { conversation(id: $id) $D { ${CONVERSATION} messages(${page}) { __typename totalCount ${info} edges { __typename cursor node { ${MESSAGE} } } } } }`,
          { id: ids.long, ...Object.fromEntries(used) },
        );
      }
    }
  });

  it('answers filters, aliases, fragments, inline fragments, a field twice, and names', async () => {
    await expectSame(`{ __typename a: conversations(first: 3, filter: { status: [ACTIVE, ARCHIVED], projectId: "p1" }) $D { edges { node { ...C } } } }
      fragment C on Conversation { id title ...C2 messages { totalCount edges { node { ...M } } } } fragment C2 on Conversation { status title } fragment M on Message { id content ... { role } }`);
    await expectSame(`{ b: conversations(filter: { agentId: "a1" }) $D { edges { node { ... on Conversation { t: title id id } } } } }`);
    await expectSame(`query($after: DateTime, $before: DateTime) { conversations(filter: { updatedAfter: $after, updatedBefore: $before, status: [ARCHIVED] }) $D { edges { node { id status } } } }`, {
      after: '2000-01-01T00:00:00.000Z',
      before: '2999-01-01T00:00:00.000Z',
    });
    const searchBlank = await expectSame(`{ conversations(filter: { search: "  " }) $D { edges { node { id } } } }`);
    expect(searchBlank.data.conversations.edges).toHaveLength(3);
    const empty = await expectSame(`query($id: ID!) { conversation(id: $id) $D { id messages(last: 5) { totalCount ${PAGE_INFO} edges { node { id } } } } }`, { id: ids.empty });
    expect(empty.data.conversation.messages).toEqual({ totalCount: 0, pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null, __typename: 'PageInfo' }, edges: [] });
  });

  it('answers a query over a WebSocket as over HTTP', async () => {
    const document = `query($id: ID!) { conversation(id: $id) $D { id messages(last: 3) { ${PAGE_INFO} edges { cursor node { id content createdAt } } } } }`;
    const { statement } = await bothWays(document, { id: ids.long });
    const server = await t.listen();
    const client = wsClient(server, viewer);
    try {
      const { statements } = await t.countQueries(async () => {
        const [result] = await subscribe(client, document.replaceAll('$D', ''), { id: ids.long }).all();
        expect(result).toEqual(statement);
      });
      expect(statements.filter((sql) => ONE_STATEMENT.test(sql.trim()))).toHaveLength(1);
    } finally {
      await client.dispose();
    }
  });

  it("shows only the viewer's rows: another's conversation is null, their list their own", async () => {
    const theirs = await expectSame(`query($id: ID!) { conversation(id: $id) $D { id title messages { edges { node { content } } } } }`, { id: ids.others });
    expect(theirs.data.conversation).toBeNull();
    const list = await expectSame(`{ conversations $D { edges { node { id title } } } }`, {}, other);
    expect(list.data.conversations.edges.map((e: any) => e.node.title)).toEqual(['not yours']);
  });

  it("reads a document and its variables with one statement for every viewer, each reading their own rows", async () => {
    /** The answers of `other`, the viewer and `other` again to the document, and the one statement each was read with. */
    const readers = async (document: string, variables: Record<string, unknown> = {}) => {
      const answers: any[] = [];
      const sent: string[] = [];
      for (const as of [other, viewer, other]) {
        const { statements } = await t.countQueries(async () => answers.push(await t.gql(document, variables, as)));
        sent.push(...statements);
      }
      expect(sent).toHaveLength(3);
      expect(new Set(sent).size).toBe(1);
      expect(sent[0].trim()).toMatch(ONE_STATEMENT);
      return answers;
    };
    const one = await readers(`query($id: ID!) { conversation(id: $id) { title messages { edges { node { content } } } } }`, { id: ids.others });
    expect(one.map((a) => a.conversation?.messages.edges.map((e: any) => e.node.content) ?? null)).toEqual([['secret'], null, ['secret']]);
    const list = await readers(`{ conversations(first: 5) { edges { node { title } } } }`);
    expect(list.map((a) => a.conversations.edges.map((e: any) => e.node.title))).toEqual([['not yours'], ['long', 'x"y\\z', 'empty'], ['not yours']]);
  });

  it('leaves to the executor what it does not plan, and what it would refuse (with the contract codes)', async () => {
    const executorOnly: [string, Record<string, unknown>][] = [
      [`{ __typename }`, {}],
      [`{ conversations { totalCount } }`, {}],
      [`{ conversations(filter: { search: "message" }) { edges { node { id } } } }`, {}],
      [`query($id: ID!) { conversation(id: $id) { messages(roles: [USER]) { edges { node { id } } } } }`, { id: ids.long }],
      [`query($id: ID!) { conversation(id: $id) { systemPrompt metadata currentMessage { id } } }`, { id: ids.long }],
      [`query($id: ID!) { conversation(id: $id) { messages { edges { node { toolCalls usage { totalTokens } parent { id } } } } } }`, { id: ids.long }],
      [`{ viewer { userId } conversations { edges { node { id } } } }`, {}],
      [`{ conversations(first: 101) { edges { node { id } } } }`, {}],
      [`{ conversations(first: 1, last: 1) { edges { node { id } } } }`, {}],
      [`{ conversations(after: "not a cursor") { edges { node { id } } } }`, {}],
      [`query($id: ID!) { conversation(id: $id) { id } }`, { id: 'bm90IGFuIGlk' }],
      [`query($id: ID!) { conversation(id: $id) { messages(after: "WyJjb252ZXJzYXRpb25zIl0") { edges { node { id } } } } }`, { id: ids.long }],
      [`query($n: Int!) { conversations(first: $n) { edges { node { id } } } }`, { n: 'many' }],
      // A page under two names, which the executor reads once; two lists; more messages than MAX_MESSAGES (200).
      [`query($id: ID!) { conversation(id: $id) { a: messages { edges { node { id } } } b: messages { edges { node { id } } } } }`, { id: ids.long }],
      [`{ a: conversations { edges { node { id } } } b: conversations { edges { node { id } } } }`, {}],
      [`query($id: ID!) { conversation(id: $id) { id } conversations { edges { node { id } } } }`, { id: ids.long }],
      [`{ conversations(first: 41) { edges { node { messages(first: 5) { edges { node { id } } } } } } }`, {}],
      // A field under two names: the executor refuses past its limits as each copy is shown.
      [`query($id: ID!) { conversation(id: $id) { messages { edges { node { a: content b: content } } } } }`, { id: ids.long }],
      [`query($id: ID!) { conversation(id: $id) { messages { a: edges { node { id } } b: edges { node { id } } } } }`, { id: ids.long }],
    ];
    for (const [document, variables] of executorOnly) {
      const { statements } = await t.countQueries(() => t.request(document, variables, viewer));
      expect(statements.some((s) => ONE_STATEMENT.test(s.trim())), document).toBe(false);
    }
    const codes = async (document: string, variables: Record<string, unknown> = {}) => (await t.request(document, variables, viewer)).body.errors?.map((e) => e.extensions?.code);
    expect(await codes(`{ conversations(first: 101) { edges { node { id } } } }`)).toEqual(['BAD_USER_INPUT']);
    expect(await codes(`{ conversations(after: "not a cursor") { edges { node { id } } } }`)).toEqual(['BAD_USER_INPUT']);
    expect(await codes(`query($id: ID!) { conversation(id: $id) { id } }`, { id: Buffer.from('Message:x').toString('base64') })).toEqual(['BAD_USER_INPUT']);
  });

  it('gives no JSON past the bytes asked for: the executor answers (and refuses past its own limit)', async () => {
    const plan = planOf(parse(`query($id: ID!) { conversation(id: $id) { messages { edges { node { content } } } } }`), null)!;
    const inputs = { schema, variables: { id: ids.long } };
    const read = async (maxBytes: number) => (await t.app.services.readRows<{ data: string | null }>(statementOf(plan, inputs, maxBytes)!.query({ userId: viewer.userId, orgId: viewer.orgId })))[0].data;
    const whole = await read(1_000_000);
    expect(whole).toContain('edited');
    expect(await read(Buffer.byteLength(whole!))).toBe(whole);
    expect(await read(Buffer.byteLength(whole!) - 1)).toBeNull();
  });

  it('reads through the statement on the second request of a document as on the first (its plan is kept once it repeats)', async () => {
    const document = `query($id: ID!) { conversation(id: $id) { messages(last: 2) { edges { node { content } } } } }`;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await t.request(document, { id: ids.short }, viewer)).body);
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });
});

describe('a statement that fails', () => {
  it('is answered by the executor, as if it had not been tried', async () => {
    const services = t.app.services as { readRows: typeof t.app.services.readRows };
    const readRows = services.readRows;
    let failed = 0;
    services.readRows = (async (query, options) => {
      if (ONE_STATEMENT.test(query.text.trim())) throw (failed++, new Error('the database went away for this one'));
      return readRows(query, options);
    }) as typeof readRows;
    try {
      const document = `query($id: ID!) { conversation(id: $id) $D { title messages(last: 2) { edges { node { content } } } } }`;
      const { statement, executed } = await bothWays(document, { id: ids.short });
      expect(statement).toEqual(executed);
      expect((statement as { data: any }).data.conversation.messages.edges).toHaveLength(2);
      expect(failed).toBe(1);
    } finally {
      services.readRows = readRows;
    }
  });
});

describe('poolReads', () => {
  /** The names the statements were sent with, through a pool that answers no rows. */
  const namesSent = async (preparedStatements: boolean) => {
    const names: (string | undefined)[] = [];
    const pool = { query: async (config: { name?: string }) => (names.push(config.name), { rows: [] }) } as unknown as Pool;
    const read = poolReads(pool, undefined, { preparedStatements });
    const statement = Prisma.sql`SELECT ${1}::int`;
    for (let i = 0; i < 3; i++) await read(statement, { kept: true });
    await read(statement);
    return names;
  };

  it('prepares a kept statement from its second run, and none with DATABASE_PREPARED_STATEMENTS=false', async () => {
    const kept = await namesSent(true);
    expect(kept[0]).toBeUndefined();
    expect(kept[1]).toBeDefined();
    expect(kept.slice(1, 3)).toEqual([kept[1], kept[1]]);
    expect(kept[3]).toBeUndefined(); // the same text, not read as kept
    expect(await namesSent(false)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('kept statements on PostgreSQL', () => {
  const SIDEBAR = `{ conversations(first: 20) { edges { node { id title messages(first: 5) { edges { node { id content } } } } } } }`;

  /** A sidebar read `runs` times through a pool of one connection, and that connection's prepared statements' plans. */
  const plansAfter = async (runs: number, env: Record<string, string> = {}) => {
    const database = await createScratchDatabase();
    const app = await startTestApp({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: '1', ...env });
    try {
      const early = await app.viewer();
      for (let i = 0; i < 3; i++) await createConversation(app, early, { title: `c${i}` });
      await app.app.services.prisma.$executeRawUnsafe('ANALYZE'); // statistics that know no viewer made after them
      const late = await app.viewer();
      for (let i = 0; i < 3; i++) await app.gql(APPEND, { c: (await createConversation(app, late, { title: `l${i}` })).id, t: 'hi', r: 'USER' }, late);
      for (let i = 0; i < runs; i++) expect((await app.gql(SIDEBAR, {}, late)).conversations.edges).toHaveLength(3);
      const [plans] = await app.app.services.readRows<{ generic: number; custom: number; mode: string }>(
        Prisma.sql`SELECT coalesce(sum(generic_plans), 0)::int AS generic, coalesce(sum(custom_plans), 0)::int AS custom, current_setting('plan_cache_mode') AS mode FROM pg_prepared_statements`,
      );
      return plans;
    } finally {
      await app.close();
      await database.drop();
    }
  };

  it('are planned once, for any values, whatever the statistics make of the viewer', async () => {
    // Left to PostgreSQL, the first five runs of a prepared statement are planned each time, and then every
    // run when the plan for its values looks cheaper (as for a viewer the statistics do not know).
    expect(await plansAfter(8)).toEqual({ generic: 7, custom: 0, mode: 'force_generic_plan' }); // kept from the second run
  }, 60_000);

  it('are not made with DATABASE_PREPARED_STATEMENTS=false, and PostgreSQL plans as it chooses', async () => {
    expect(await plansAfter(3, { DATABASE_PREPARED_STATEMENTS: 'false' })).toEqual({ generic: 0, custom: 0, mode: 'auto' });
  }, 60_000);
});

describe('statementCache', () => {
  /** A cache over a builder that counts what it builds: statements of `chars` characters, or null (refused) for `refuse`. */
  const counting = () => {
    const built: unknown[] = [];
    const statementFor = statementCache((_plan, { variables }) => {
      built.push(variables);
      return variables.refuse ? null : ({ query: () => ({ text: 'SELECT 1', values: [] }), finish: null, chars: Number(variables.chars ?? 100) } satisfies PageStatement);
    });
    return { built, read: (plan: Plan, variables: Record<string, unknown>) => statementFor(plan, schema, variables) };
  };
  /** A plan of a document of `chars` characters (what the cache counts of it). */
  const planOfLength = (chars: number) => ({ operation: { loc: { source: { body: 'x'.repeat(chars) } } } }) as unknown as Plan;
  const [one, two] = [planOfLength(100), planOfLength(100)];

  it('builds a statement once for a plan and its variables, and again for others', () => {
    const { built, read } = counting();
    const first = read(one, { id: 'a' });
    expect(read(one, { id: 'a' })).toBe(first);
    read(one, { id: 'b' });
    read(two, { id: 'a' });
    expect(read(one, { refuse: true })).toBeNull();
    expect(read(one, { refuse: true })).toBeNull(); // a refusal is kept too
    expect(built).toEqual([{ id: 'a' }, { id: 'b' }, { id: 'a' }, { refuse: true }]);
  });

  it('keeps no statement larger than its bound, and no more characters in all than its budget', () => {
    const { built, read } = counting();
    const huge = { search: 'x'.repeat(KEPT_STATEMENT_MAX_CHARS) };
    read(one, huge);
    read(one, huge);
    expect(built).toHaveLength(2); // variables past the bound, sent again and again, hold nothing
    const padded = planOfLength(KEPT_STATEMENT_MAX_CHARS);
    read(padded, {});
    read(padded, {});
    expect(built).toHaveLength(4); // nor does a document past it, whose strings would hold all of its text
    const large = (i: number) => ({ i, chars: KEPT_STATEMENT_MAX_CHARS / 2 }); // with its key and document, just over half
    const last = KEPT_STATEMENT_CHARS / (KEPT_STATEMENT_MAX_CHARS / 2); // one more than the budget holds
    for (let i = 0; i <= last; i++) read(two, large(i));
    built.length = 0;
    read(two, large(last)); // the latest is kept
    read(two, large(0)); // the oldest was pushed out
    expect(built).toEqual([large(0)]);
  });
});

describe('KeptStatements', () => {
  it('names a text from its second run, the same name after, and none past its places', () => {
    const kept = new KeptStatements();
    expect(kept.nameOf('SELECT 1')).toBeUndefined();
    const name = kept.nameOf('SELECT 1');
    expect(name).toBeDefined();
    expect(kept.nameOf('SELECT 1')).toBe(name);
    for (let i = 2; i <= KeptStatements.MAX_KEPT; i++) [0, 1].forEach(() => kept.nameOf(`SELECT ${i}`));
    expect(new Set(Array.from({ length: KeptStatements.MAX_KEPT }, (_, i) => kept.nameOf(`SELECT ${i + 1}`))).size).toBe(KeptStatements.MAX_KEPT);
    [0, 1, 2].forEach(() => expect(kept.nameOf('SELECT past the places')).toBeUndefined());
  });
});
