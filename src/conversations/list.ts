// Listing a viewer's conversations: filters, five orders, keyset pages and their total. One SQL statement
// for a page (through the driver, with only the columns asked for: the sidebar is the hottest read), one
// for its total when asked; a search with its total is one statement for both.
import { ConversationStatus, Prisma, type Conversation } from '../generated/prisma/client.ts';
import { ownConversationsSql } from '../access.ts';
import type { Viewer } from '../auth.ts';
import { invalidField } from '../errors.ts';
import { selectList, type ReadRows } from '../row-reads.ts';
import { CONVERSATION_ROW_COLUMNS } from '../stored-values.ts';
import { buildConnection, cursorCodec, isTimeAndId, pageRequest, type ConnectionArgs, type Connection, type CursorCodec, type PageRequest } from '../pagination/connection.ts';
import { distinctValues } from '../validation.ts';

export type ConversationOrder = 'UPDATED_AT_DESC' | 'UPDATED_AT_ASC' | 'CREATED_AT_DESC' | 'CREATED_AT_ASC' | 'LAST_ACTIVITY_DESC';

export type ConversationFilter = {
  status?: ConversationStatus[] | null;
  projectId?: string | null;
  agentId?: string | null;
  search?: string | null;
  updatedAfter?: Date | null;
  updatedBefore?: Date | null;
};

export type ListDeps = { readRows: ReadRows; viewer: Viewer };

export type ListOptions = {
  /** Count the whole list too (totalCount). */
  withTotal?: boolean;
  /** Read these columns only (the rest of each row is left out), or whole rows; `whole` says which came. */
  columns?: readonly (keyof Conversation)[] | null;
};

const ORDER_FIELDS = {
  UPDATED_AT_DESC: ['updatedAt', 'desc'],
  UPDATED_AT_ASC: ['updatedAt', 'asc'],
  CREATED_AT_DESC: ['createdAt', 'desc'],
  CREATED_AT_ASC: ['createdAt', 'asc'],
  LAST_ACTIVITY_DESC: ['lastActivityAt', 'desc'],
} as const;

const codecs = Object.fromEntries(
  Object.keys(ORDER_FIELDS).map((order) => [order, cursorCodec<[number, string]>(`conversations:${order}`, isTimeAndId)]),
) as Record<ConversationOrder, ReturnType<typeof cursorCodec<[number, string]>>>;

export const DEFAULT_CONVERSATION_PAGE = 20;

export type ConversationListArgs = ConnectionArgs & { filter?: ConversationFilter | null; orderBy?: ConversationOrder | null };

/** A page of a list of conversations as a statement, before it is read. */
export type ConversationPageQuery = {
  request: PageRequest<[number, string]>;
  codec: CursorCodec<[number, string]>;
  /** The list's order: the time column ordered by (then the id), and its way. */
  order: { column: 'updatedAt' | 'createdAt' | 'lastActivityAt'; direction: 'asc' | 'desc' };
  /** The search pattern, when the filter has one (costly: charged by its caller). */
  search: string | null;
  /** The viewer's conversations the filter keeps (over `c`). */
  conditions: Prisma.Sql[];
  /** The page's rows, `columns` of each (over `c`), in reading order, limit + 1 at most, from `from` (over `c`) kept by `where` and the bounds. */
  rows: (columns: Prisma.Sql, from?: Prisma.Sql, where?: Prisma.Sql[]) => Prisma.Sql;
};

/**
 * Checks the arguments (BAD_USER_INPUT) and builds the page's statement. `extraRow`: a row beyond the page is
 * read, which tells whether more come (a page read in one statement may not ask: src/sql-pages/statement.ts).
 */
export function conversationPageQuery(viewer: Viewer, args: ConversationListArgs, { extraRow = true } = {}): ConversationPageQuery {
  const order = args.orderBy ?? 'UPDATED_AT_DESC';
  const [field, direction] = ORDER_FIELDS[order];
  const codec = codecs[order];
  const request = pageRequest(args, codec, DEFAULT_CONVERSATION_PAGE);
  const filter = { ...args.filter, status: distinctValues(args.filter?.status, Object.keys(ConversationStatus).length, 'filter.status') };
  const search = searchPattern(filter.search);
  const readDirection = request.backward ? (direction === 'desc' ? 'asc' : 'desc') : direction;
  const conditions = filterConditions(viewer, filter, search);

  // Keyset bounds in the list's order: `after` keeps what sorts later, `before` what sorts earlier.
  const later = direction === 'desc' ? '<' : '>';
  const earlier = direction === 'desc' ? '>' : '<';
  const column = Prisma.raw(`"${field}"`);
  const beyond = ([time, id]: [number, string], op: string) => Prisma.sql`(c.${column}, c."id") ${Prisma.raw(op)} (${timestamp(new Date(time))}::timestamp(3), ${id})`;
  const bounds = [Prisma.sql`TRUE`];
  if (request.after) bounds.push(beyond(request.after, later));
  if (request.before) bounds.push(beyond(request.before, earlier));
  const dir = Prisma.raw(readDirection.toUpperCase());
  const rows = (columns: Prisma.Sql, from = Prisma.raw('"Conversation"'), where = conditions) => Prisma.sql`
    SELECT ${columns} FROM ${from} AS c WHERE ${Prisma.join([...where, ...bounds], ' AND ')}
    ORDER BY c.${column} ${dir}, c."id" ${dir} LIMIT ${request.limit + (extraRow ? 1 : 0)}`;
  return { request, codec, order: { column: field, direction }, search, conditions, rows };
}

export async function listConversations(ctx: ListDeps, args: ConversationListArgs, { withTotal = false, columns = null }: ListOptions = {}): Promise<{ page: Connection<Conversation>; whole: boolean }> {
  const { request, codec, order, search, conditions, rows: pageQuery } = conversationPageQuery(ctx.viewer, args);
  const keyOf = (c: Conversation) => [c[order.column].getTime(), c.id] as [number, string];

  // A search with its total: the matches are found once (a materialised CTE: title, or any message's
  // content) and both the page and the count are read from them. The total comes on a row of its own, so
  // it is there even when the page is empty.
  if (search && withTotal) {
    const rows = await ctx.readRows<Conversation & { total: number; matched: boolean }>(Prisma.sql`
      WITH matched AS MATERIALIZED (SELECT c.* FROM "Conversation" AS c WHERE ${Prisma.join(conditions, ' AND ')})
      SELECT t.total, page.id IS NOT NULL AS matched, page.*
      FROM (SELECT count(*)::int AS total FROM matched) AS t
      LEFT JOIN LATERAL (${pageQuery(selectList('c', CONVERSATION_ROW_COLUMNS), Prisma.raw('matched'), [])}) AS page ON TRUE`);
    const total = rows[0]?.total ?? 0;
    const found = rows.filter((row) => row.matched).map(({ total: _total, matched: _matched, ...conversation }) => conversation as Conversation);
    return { page: buildConnection(found, request, keyOf, codec, total), whole: true };
  }

  // A row read with some of the columns only is typed as a whole one.
  const rows = await ctx.readRows<Conversation>(pageQuery(selectList('c', columns ?? CONVERSATION_ROW_COLUMNS)));
  const page = buildConnection(rows, request, keyOf, codec, async () => {
    const [{ total }] = await ctx.readRows<{ total: number }>(Prisma.sql`SELECT count(*)::int AS total FROM "Conversation" AS c WHERE ${Prisma.join(conditions, ' AND ')}`);
    return total;
  });
  return { page, whole: columns === null };
}

/** A time as a parameter: ISO text, read as the UTC time it is (a `timestamp` column holds UTC). */
const timestamp = (time: Date) => time.toISOString();

/**
 * A search as a regular expression taken literally (`***=` makes every character match itself), for `~*`;
 * null for none. Not ILIKE: its matcher tries the pattern again at every position, so a crafted pattern of
 * 200 characters over 10 MB of a user's own messages held PostgreSQL for 1.2 s (and PGlite, in process,
 * the event loop for 2.5 s); the regular expression engine reads each character once.
 */
function searchPattern(search: string | null | undefined): string | null {
  const text = search?.trim();
  if (!text) return null;
  if (text.length > 200) throw invalidField('filter.search', 'must be at most 200 characters');
  return `***=${text}`;
}

/** The viewer's conversations the filter keeps (ACTIVE ones by default), over `c`. */
function filterConditions(viewer: Viewer, filter: ConversationFilter, pattern: string | null): Prisma.Sql[] {
  const conditions = [
    ownConversationsSql(viewer, 'c'),
    // As the enum, not as text: the status leads every list's index.
    Prisma.sql`c."status" = ANY(${filter.status?.length ? filter.status : ['ACTIVE']}::text[]::"ConversationStatus"[])`,
  ];
  if (pattern) {
    // The viewer's own messages only, conversation by conversation: OFFSET 0 keeps PostgreSQL from turning
    // the EXISTS into one pass over every tenant's messages, hashed by conversation.
    conditions.push(Prisma.sql`(c."title" ~* ${pattern} OR EXISTS (SELECT 1 FROM "Message" AS m WHERE m."conversationId" = c."id" AND m."content" ~* ${pattern} OFFSET 0))`);
  }
  if (filter.projectId != null) conditions.push(Prisma.sql`c."projectId" = ${filter.projectId}`);
  if (filter.agentId != null) conditions.push(Prisma.sql`c."agentId" = ${filter.agentId}`);
  if (filter.updatedAfter) conditions.push(Prisma.sql`c."updatedAt" > ${timestamp(filter.updatedAfter)}::timestamp(3)`);
  if (filter.updatedBefore) conditions.push(Prisma.sql`c."updatedAt" < ${timestamp(filter.updatedBefore)}::timestamp(3)`);
  return conditions;
}
