import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMessage, createConversation, expectErrorCode, startTestApp, type TestApp, type TestViewer } from './helpers.ts';
import { listConversations } from '../src/conversations/list.ts';
import { cursorCodec, isTimeAndId } from '../src/pagination/connection.ts';
import type { ReadRows, SqlQuery } from '../src/row-reads.ts';

let t: TestApp;
beforeAll(async () => (t = await startTestApp()));
afterAll(() => t.close());

const LIST = /* GraphQL */ `
  query($first: Int, $after: String, $last: Int, $before: String, $filter: ConversationFilter, $orderBy: ConversationOrder) {
    conversations(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id title status } }
    }
  }`;

async function list(viewer: TestViewer, variables: Record<string, unknown>) {
  return (await t.gql(LIST, variables, viewer)).conversations;
}
const titles = (page: any) => page.edges.map((e: any) => e.node.title);

async function seed(viewer: TestViewer, n: number) {
  const made = [];
  for (let i = 0; i < n; i++) made.push(await createConversation(t, viewer, { title: `c${i}` }));
  return made;
}

describe('conversations pagination', () => {
  it('walks forward and backward through every order without gaps or repeats', async () => {
    const viewer = await t.viewer();
    await seed(viewer, 7);
    const expected = {
      CREATED_AT_ASC: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'],
      CREATED_AT_DESC: ['c6', 'c5', 'c4', 'c3', 'c2', 'c1', 'c0'],
      UPDATED_AT_DESC: ['c6', 'c5', 'c4', 'c3', 'c2', 'c1', 'c0'],
      UPDATED_AT_ASC: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'],
      LAST_ACTIVITY_DESC: ['c6', 'c5', 'c4', 'c3', 'c2', 'c1', 'c0'],
    };
    for (const [orderBy, order] of Object.entries(expected)) {
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = await list(viewer, { first: 3, after, orderBy });
        expect(page.totalCount).toBe(7);
        seen.push(...titles(page));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen).toEqual(order);

      const back: string[] = [];
      let before: string | null = null;
      for (;;) {
        const page: any = await list(viewer, { last: 3, before, orderBy });
        back.unshift(...titles(page));
        if (!page.pageInfo.hasPreviousPage) break;
        before = page.pageInfo.startCursor;
      }
      expect(back).toEqual(order);
    }
  });

  it('LAST_ACTIVITY_DESC: newest message first, creation time when empty; a rename does not move it', async () => {
    const viewer = await t.viewer();
    const [c0, c1, c2] = await seed(viewer, 3);
    await appendMessage(t, viewer, c0.id);
    await createConversation(t, viewer, { title: 'c3' });
    await appendMessage(t, viewer, c1.id);
    await t.gql(`mutation($id: ID!) { updateConversation(input: { id: $id, title: "c2 renamed" }) { conversation { id } } }`, { id: c2.id }, viewer);
    const order = ['c1', 'c3', 'c0', 'c2 renamed'];
    expect(titles(await list(viewer, { first: 10, orderBy: 'LAST_ACTIVITY_DESC' }))).toEqual(order);
    const page = await list(viewer, { first: 2, orderBy: 'LAST_ACTIVITY_DESC' });
    expect(titles(await list(viewer, { first: 10, after: page.pageInfo.endCursor, orderBy: 'LAST_ACTIVITY_DESC' }))).toEqual(order.slice(2));
    expect(titles(await list(viewer, { first: 10, orderBy: 'LAST_ACTIVITY_DESC', filter: { search: 'c' } }))).toEqual(order);
  });

  it('stays stable while conversations are created during the walk', async () => {
    const viewer = await t.viewer();
    await seed(viewer, 6);
    const first = await list(viewer, { first: 3 });
    expect(titles(first)).toEqual(['c5', 'c4', 'c3']);
    await Promise.all(['n1', 'n2', 'n3'].map((title) => createConversation(t, viewer, { title })));
    const second = await list(viewer, { first: 3, after: first.pageInfo.endCursor });
    expect(titles(second)).toEqual(['c2', 'c1', 'c0']);
    expect(second.pageInfo.hasNextPage).toBe(false);
    // Newer items appear in front of the first cursor, found by paging backwards from it.
    const newer = await list(viewer, { last: 10, before: first.pageInfo.startCursor });
    expect(titles(newer).sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('pages a window between after and before', async () => {
    const viewer = await t.viewer();
    await seed(viewer, 6);
    const all = await list(viewer, { first: 6, orderBy: 'CREATED_AT_ASC' });
    const window = await list(viewer, { first: 10, after: all.edges[0].cursor, before: all.edges[4].cursor, orderBy: 'CREATED_AT_ASC' });
    expect(titles(window)).toEqual(['c1', 'c2', 'c3']);
  });

  it.each([
    [{ first: 101 }],
    [{ last: 101 }],
    [{ first: -1 }],
    [{ last: -1 }],
    [{ first: 2, last: 2 }],
    [{ after: 'not-a-cursor' }],
    [{ before: 'bm9wZQ' }],
  ])('refuses %j with BAD_USER_INPUT', async (args) => {
    const viewer = await t.viewer();
    expectErrorCode((await t.request(LIST, args, viewer)).body, 'BAD_USER_INPUT');
  });

  it('refuses a cursor longer than any made here before parsing it', async () => {
    // The longest kind, the latest time and the longest id make a cursor well under the limit.
    const codec = cursorCodec<[number, string]>('conversations:LAST_ACTIVITY_DESC', isTimeAndId);
    const longest = codec.encode([253_402_300_799_999, 'x'.repeat(64)]);
    expect(codec.decode(longest)).toEqual([253_402_300_799_999, 'x'.repeat(64)]);
    // The same cursor padded with spaces is the same JSON, and refused for its length alone.
    const padded = Buffer.from(`["conversations:LAST_ACTIVITY_DESC", 1,${' '.repeat(200)} "x"]`).toString('base64url');
    expect(codec.decode(padded)).toBeNull();
    // A forged cursor of nested brackets, given to many fields, is refused as any bad cursor.
    const viewer = await t.viewer();
    const forged = Buffer.from('['.repeat(200_000)).toString('base64url');
    const aliases = Array.from({ length: 20 }, (_, i) => `c${i}: conversations(after: $c) { totalCount }`).join(' ');
    expectErrorCode((await t.request(`query($c: String) { ${aliases} }`, { c: forged }, viewer)).body, 'BAD_USER_INPUT');
  });

  it('refuses a cursor made for another order', async () => {
    const viewer = await t.viewer();
    await seed(viewer, 2);
    const page = await list(viewer, { first: 1, orderBy: 'CREATED_AT_ASC' });
    expectErrorCode((await t.request(LIST, { first: 1, after: page.pageInfo.endCursor, orderBy: 'UPDATED_AT_DESC' }, viewer)).body, 'BAD_USER_INPUT');
  });

  it('accepts first: 100 and first: 0', async () => {
    const viewer = await t.viewer();
    await seed(viewer, 2);
    expect((await list(viewer, { first: 100 })).edges).toHaveLength(2);
    const empty = await list(viewer, { first: 0 });
    expect(empty).toMatchObject({ edges: [], totalCount: 2, pageInfo: { hasNextPage: true } });
  });
});

describe('conversations filter', () => {
  it('filters by status (ACTIVE by default; DELETED only when asked), project, agent and update time', async () => {
    const viewer = await t.viewer();
    const [a, b, c, d] = await seed(viewer, 4);
    await t.gql(`mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { id } } }`, { id: b.id }, viewer);
    await t.gql(`mutation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { id } } }`, { id: c.id }, viewer);
    expect(titles(await list(viewer, { orderBy: 'CREATED_AT_ASC' }))).toEqual(['c0', 'c3']);
    expect(titles(await list(viewer, { filter: { status: ['ARCHIVED'] } }))).toEqual(['c1']);
    expect(titles(await list(viewer, { filter: { status: ['DELETED'] } }))).toEqual(['c2']);
    expect((await list(viewer, { filter: { status: ['ACTIVE', 'ARCHIVED', 'DELETED'] } })).totalCount).toBe(4);

    await createConversation(t, viewer, { title: 'proj', projectId: 'p-1', agentId: 'agent-9' });
    expect(titles(await list(viewer, { filter: { projectId: 'p-1' } }))).toEqual(['proj']);
    expect(titles(await list(viewer, { filter: { agentId: 'agent-9' } }))).toEqual(['proj']);
    expect((await list(viewer, { filter: { projectId: 'p-2' } })).totalCount).toBe(0);

    const cutoff = new Date(Date.now() + 60_000).toISOString();
    expect((await list(viewer, { filter: { updatedAfter: cutoff } })).totalCount).toBe(0);
    expect((await list(viewer, { filter: { updatedBefore: cutoff } })).totalCount).toBe(3);
    void a, void d;
  });

  it('searches titles and message content, case-insensitively, with wildcards and regular expressions taken literally', async () => {
    const viewer = await t.viewer();
    await createConversation(t, viewer, { title: 'Holiday PLANS' });
    const withMessage = await createConversation(t, viewer, { title: 'Untitled' });
    await appendMessage(t, viewer, withMessage.id, { content: 'We should visit the Louvre museum' });
    await createConversation(t, viewer, { title: '100% done' });
    await createConversation(t, viewer, { title: 'unrelated' });
    expect(titles(await list(viewer, { filter: { search: 'plans' } }))).toEqual(['Holiday PLANS']);
    expect(titles(await list(viewer, { filter: { search: 'LOUVRE' } }))).toEqual(['Untitled']);
    expect(titles(await list(viewer, { filter: { search: '100%' } }))).toEqual(['100% done']);
    expect(titles(await list(viewer, { filter: { search: '%' } }))).toEqual(['100% done']);
    expect((await list(viewer, { filter: { search: 'nothing-matches' } })).totalCount).toBe(0);

    const literal = 'Café (a+b)*[c]? \\d ^$ ÉCOLE.';
    await createConversation(t, viewer, { title: literal });
    for (const search of ['(A+B)*[C]?', '\\d', '^$', 'école.', 'CAFÉ', '*']) expect(titles(await list(viewer, { filter: { search } })), search).toEqual([literal]);
    for (const search of ['a.b', '[ab]', '***=', '.*', 'c+']) expect((await list(viewer, { filter: { search } })).totalCount, search).toBe(0);
  });

  it('pages through a search both ways, with and without its total, alike; the search runs once per page', async () => {
    const viewer = await t.viewer();
    for (let i = 0; i < 7; i++) {
      const c = await createConversation(t, viewer, { title: i % 2 ? `needle ${i}` : `hay ${i}` });
      if (i % 3 === 0) await appendMessage(t, viewer, c.id, { content: `a NEEDLE inside ${i}` });
    }
    await createConversation(t, viewer, { title: 'archived needle' }).then((c) =>
      t.gql(`mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { id } } }`, { id: c.id }, viewer),
    );
    const WITHOUT_TOTAL = LIST.replace('totalCount', '');
    const walk = async (query: string, forward: boolean) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (;;) {
        const variables: Record<string, unknown> = forward ? { first: 2, after: cursor, filter: { search: "needle" } } : { last: 2, before: cursor, filter: { search: "needle" } };
        const page: any = (await t.gql(query, variables, viewer)).conversations;
        seen.push(...(forward ? titles(page) : titles(page).reverse()));
        if (!(forward ? page.pageInfo.hasNextPage : page.pageInfo.hasPreviousPage)) return { seen, page };
        cursor = forward ? page.pageInfo.endCursor : page.pageInfo.startCursor;
      }
    };
    const expected = ['hay 6', 'needle 5', 'needle 3', 'needle 1', 'hay 0']; // by last update, newest first
    expect((await walk(LIST, true)).seen).toEqual(expected);
    expect((await walk(WITHOUT_TOTAL, true)).seen).toEqual(expected);
    expect((await walk(LIST, false)).seen).toEqual([...expected].reverse());
    expect((await walk(WITHOUT_TOTAL, false)).seen).toEqual([...expected].reverse());
    expect((await list(viewer, { first: 2, filter: { search: 'needle' } })).totalCount).toBe(5);
    const past = await list(viewer, { first: 2, after: (await list(viewer, { first: 5, filter: { search: 'needle' } })).pageInfo.endCursor, filter: { search: 'needle' } });
    expect(past).toMatchObject({ totalCount: 5, edges: [], pageInfo: { hasNextPage: false } });
    expect((await list(viewer, { first: 9, filter: { search: 'needle', status: ['ARCHIVED'] } })).totalCount).toBe(1);

    const { statements } = await t.countQueries(() => list(viewer, { first: 2, filter: { search: 'needle' } }));
    expect(statements.filter((sql) => sql.includes('~*'))).toHaveLength(1);
  });

  it("searches the viewer's own messages only, however many of another tenant's match", async () => {
    const [viewer, other] = [await t.viewer(), await t.viewer()];
    const own = await createConversation(t, viewer, { title: 'mine' });
    await appendMessage(t, viewer, own.id, { content: 'a pin in the hay' });
    await appendMessage(t, viewer, own.id, { content: 'the pin again' });
    const theirs = await createConversation(t, other, { title: 'theirs' });
    for (let i = 0; i < 30; i++) await appendMessage(t, other, theirs.id, { content: `pin ${i}` });

    // Each statement of the search is run twice: for its rows, and under EXPLAIN ANALYZE for the number of
    // Message rows PostgreSQL read to answer it.
    let messagesRead = 0;
    const { prisma, readRows } = t.app.services;
    const explained: ReadRows = async <Row,>(query: SqlQuery) => {
      const [{ 'QUERY PLAN': plan }] = await prisma.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(`EXPLAIN (ANALYZE, FORMAT JSON) ${query.text}`, ...query.values);
      messagesRead += rowsRead(plan, 'Message');
      return readRows<Row>(query);
    };
    for (const withTotal of [true, false]) {
      messagesRead = 0;
      const { page } = await listConversations({ readRows: explained, viewer }, { filter: { search: 'PIN' } }, { withTotal });
      expect(page.edges.map((edge) => edge.node.title)).toEqual(['mine']);
      expect(messagesRead).toBeGreaterThan(0);
      expect(messagesRead).toBeLessThanOrEqual(2);
    }
  });

  it("runs one of a viewer's searches at a time: those asked meanwhile are refused, another viewer's are not", async () => {
    const [viewer, other] = [await t.viewer(), await t.viewer()];
    for (const who of [viewer, other]) {
      const c = await createConversation(t, who, { title: 'haystack' });
      for (let i = 0; i < 4; i++) await appendMessage(t, who, c.id, { content: 'hay '.repeat(25_000) });
    }
    const search = (who: TestViewer) => t.request(LIST, { filter: { search: 'needle' } }, who).then(({ body }) => (body.errors ? `${body.errors[0].extensions?.code}: ${body.errors[0].message}` : 'ok'));
    const answers = await Promise.all([...Array.from({ length: 4 }, () => search(viewer)), search(other)]);
    // (One asked after the first has ended is taken too.)
    expect(answers.slice(0, 4)).toContain("RATE_LIMITED: One search at a time: this user's last has not ended");
    expect(answers.slice(0, 4)).toContain('ok');
    expect(answers[4]).toBe('ok');
    expect(await search(viewer)).toBe('ok'); // once it has ended
  });

  it('refuses a malformed DateTime', async () => {
    const viewer = await t.viewer();
    expectErrorCode((await t.request(LIST, { filter: { updatedAfter: 'yesterday' } }, viewer)).body, 'BAD_USER_INPUT');
  });

  it('moves a conversation to the front of UPDATED_AT_DESC when a message is added', async () => {
    const viewer = await t.viewer();
    const [oldest] = await seed(viewer, 3);
    await appendMessage(t, viewer, oldest.id);
    expect(titles(await list(viewer, { first: 1 }))).toEqual(['c0']);
  });
});

describe('messages pagination', () => {
  it('pages by position both ways', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    for (let i = 1; i <= 9; i++) await appendMessage(t, viewer, c.id, { content: `m${i}`, tokens: 1 });
    const page = async (args: string) =>
      (await t.gql(`query($id: ID!) { conversation(id: $id) { messages(${args}) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { position } } } } }`, { id: c.id }, viewer))
        .conversation.messages;
    const positions = (p: any) => p.edges.map((e: any) => e.node.position);
    const p1 = await page('first: 4');
    expect(positions(p1)).toEqual([1, 2, 3, 4]);
    expect(p1).toMatchObject({ totalCount: 9, pageInfo: { hasNextPage: true, hasPreviousPage: false } });
    const p2 = await page(`first: 4, after: "${p1.pageInfo.endCursor}"`);
    expect(positions(p2)).toEqual([5, 6, 7, 8]);
    const tail = await page('last: 3');
    expect(positions(tail)).toEqual([7, 8, 9]);
    expect(tail.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    const beforeTail = await page(`last: 3, before: "${tail.pageInfo.startCursor}"`);
    expect(positions(beforeTail)).toEqual([4, 5, 6]);
    expectErrorCode((await t.request(`query($id: ID!) { conversation(id: $id) { messages(first: 101) { totalCount } } }`, { id: c.id }, viewer)).body, 'BAD_USER_INPUT');
  });
});

/** The rows the plan's nodes over `table` read (kept or filtered out), over all their loops. */
function rowsRead(plan: unknown, table: string): number {
  if (Array.isArray(plan)) return plan.reduce((sum: number, node) => sum + rowsRead(node, table), 0);
  if (!plan || typeof plan !== 'object') return 0;
  const node = plan as Record<string, any>;
  const own = node['Relation Name'] === table ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * node['Actual Loops'] : 0;
  return own + rowsRead(node.Plan ?? node.Plans ?? [], table);
}
