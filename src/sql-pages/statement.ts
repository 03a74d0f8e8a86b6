// A plan (src/sql-pages/plan.ts) and its arguments as one statement that builds the whole response in
// PostgreSQL: each connection over the same statements the resolvers read their pages with
// (conversations/list.ts, messages/branch.ts), its edges and page info as buildConnection makes them, each
// field as fields.ts says. Arguments the resolvers would refuse (or that ask for what is not planned here)
// give no statement: the executor answers, with the contract's errors.
import { randomUUID } from 'node:crypto';
import { getArgumentValues, GraphQLError, isObjectType, type FieldNode, type GraphQLSchema } from 'graphql';
import { PothosValidationError } from '@pothos/core';
import { Prisma } from '../generated/prisma/client.ts';
import type { Viewer } from '../auth.ts';
import { ownConversationsSql, ownerOf } from '../access.ts';
import { conversationPageQuery, type ConversationListArgs } from '../conversations/list.ts';
import { branchRowsQuery } from '../messages/branch.ts';
import { DEFAULT_MESSAGE_PAGE, messageCursor } from '../messages/pages.ts';
import { pageRequest, type ConnectionArgs, type PageRequest } from '../pagination/connection.ts';
import { selectList, type SqlQuery } from '../row-reads.ts';
import { decodeGlobalId } from '../global-ids.ts';
import { cursorOf, globalIdOf, type FieldSql, type Finish } from './fields.ts';
import type { ConversationPart, LinkPart, MessagePart, Page, Plan, Selected } from './plan.ts';

export type StatementInputs = { schema: GraphQLSchema; variables: Record<string, unknown> };

/**
 * The statement (one row, "data": the response's data as JSON text) as a viewer runs it, and what makes its
 * parsed JSON the response's data. It is built once for every viewer: the viewer's ids are its values only.
 */
export type PageStatement = {
  query: (viewer: Viewer) => SqlQuery;
  finish: Finish | null;
  /** The length of its text: what keeping it costs (statement-cache.ts). */
  chars: number;
};

/**
 * The viewer a statement is built for, whose ids are then replaced by the reader's: unguessable, so that no
 * value a client sends can be taken for one of them.
 */
const STAND_IN = ownerOf({ orgId: `org ${randomUUID()}`, userId: `user ${randomUUID()}` });

/** Where the executor answers instead. */
class ForTheExecutor extends Error {}

/**
 * Messages one statement may show at most (pages of pages included): what it builds in PostgreSQL is kept
 * near what the executor would read for the same document (a message's JSON may be six times its text).
 */
export const MAX_MESSAGES = 200;

/**
 * The statement that answers `plan`, or null for the executor. Its data is null past `maxBytes` of JSON: the
 * executor answers it (and refuses it, past its own limit on stored text), and no larger text reaches here.
 */
export function statementOf(plan: Plan, inputs: StatementInputs, maxBytes: number): PageStatement | null {
  try {
    const statement = new Statement(inputs);
    const { sql, finish } = statement.root(plan);
    if (statement.messagesShown > MAX_MESSAGES) return null;
    // OFFSET 0: the page is built once (inlined, PostgreSQL built it for each place `data` is named).
    const built = Prisma.sql`SELECT CASE WHEN octet_length(page.data) > ${maxBytes}::int THEN NULL ELSE page.data END AS "data" FROM (SELECT ${sql}::text AS data OFFSET 0) AS page`;
    // A flat copy: the text as built is a rope of its many pieces, three times the size (it is kept).
    const text = Buffer.from(built.text).toString();
    const { values } = built;
    const query = (viewer: Viewer) => {
      const { orgId, userId } = ownerOf(viewer);
      return { text, values: values.map((v) => (v === STAND_IN.orgId ? orgId : v === STAND_IN.userId ? userId : v)) };
    };
    return { query, finish, chars: text.length };
  } catch (error) {
    // Arguments refused (a GraphQLError, a bad global ID): the executor refuses them in the contract's words.
    if (error instanceof ForTheExecutor || error instanceof GraphQLError || error instanceof PothosValidationError) return null;
    throw error;
  }
}

/** A JSON value of the statement, and what becomes of it once parsed (null: it stays as it is). */
type Value = { sql: Prisma.Sql; finish: Finish | null };

const raw = Prisma.raw;
const value = (sql: Prisma.Sql | string, finish: Finish | null = null): Value => ({ sql: typeof sql === 'string' ? raw(sql) : sql, finish });
const bool = (yes: boolean) => value(yes ? 'true' : 'false');
const text = (literal: string) => value(`'${literal}'::text`);

/** A JSON object of the entries, in their order (keys are GraphQL names: safe as literals); null stays null. */
function object(entries: readonly [string, Value][]): Value {
  const sql = entries.length ? Prisma.sql`json_build_object(${Prisma.join(entries.flatMap(([key, v]) => [raw(`'${key}'`), v.sql]), ', ')})` : raw('json_build_object()');
  // Only the keys and their finishes are held, not their SQL (statement-cache.ts keeps statements).
  const finishing = entries.flatMap(([key, v]) => (v.finish ? [[key, v.finish] as const] : []));
  if (!finishing.length) return value(sql);
  return value(sql, (parsed) => {
    if (parsed === null) return null;
    const fields = parsed as Record<string, unknown>;
    for (const [key, finish] of finishing) fields[key] = finish(fields[key]);
    return fields;
  });
}

/**
 * Each item of a list finished. Made here, not where the list's SQL is: a closure there would hold all of that
 * scope (the page's SQL with it) for as long as the statement is kept (statement-cache.ts).
 */
const eachOf =
  (finish: Finish): Finish =>
  (items) =>
    (items as unknown[]).map(finish);

const fieldValue = (field: FieldSql, alias: string) => value(field.sql(alias), field.finish ?? null);

/** A node of which its ID (and name) is asked for: null when the link's ID is. */
function linkValue({ link, keys }: LinkPart, alias: string): Value {
  const node = object(keys.map(({ key, part }) => [key, part === 'id' ? value('link."id"', globalIdOf(link.type)) : text(link.type)]));
  return value(Prisma.sql`(SELECT CASE WHEN link."id" IS NULL THEN NULL ELSE ${node.sql} END FROM (SELECT ${raw(link.id(alias))} AS "id") AS link)`, node.finish);
}

const partValue = (part: MessagePart, alias: string) => (part.kind === 'field' ? fieldValue(part.field, alias) : linkValue(part, alias));
const columnsOf = (parts: Selected<ConversationPart>, always: readonly string[]) => [
  ...new Set([...always, ...parts.flatMap(({ part }) => (part.kind === 'field' ? part.field.columns : part.kind === 'link' ? part.link.columns : []))]),
];
/**
 * Whether the page asks if more rows come (`hasNextPage`, `hasPreviousPage`): only then is a row beyond it read,
 * and its rows numbered to leave that row out (a window and a filter for each page of messages of a sidebar,
 * 5% of its statement).
 */
const asksForMore = (page: Page<unknown>) =>
  page.parts.some(({ part }) => part.kind === 'pageInfo' && part.info.some(({ part }) => part === 'hasNextPage' || part === 'hasPreviousPage'));
const nodesOf = <N>(page: Page<N>) => page.parts.flatMap(({ part }) => (part.kind === 'edges' ? part.edge.flatMap(({ part }) => (part.kind === 'node' ? part.node : [])) : []));

/** How a connection's rows are read, numbered and shown. */
type PageShape = {
  /** The connection's type name, without "Connection". */
  type: 'Conversation' | 'Message';
  /** Aliases of this level of the statement start with it. */
  level: string;
  request: PageRequest<unknown>;
  /** Whether a row beyond the page is read (asksForMore). */
  extraRow: boolean;
  /** Its rows in reading order: `limit`, and the row beyond. */
  rows: Prisma.Sql;
  /** The reading order over a row of `rows`. */
  readOrder: (alias: string) => string;
  /** The list's order over a row of `rows` (the reading order, reversed for a page read backward). */
  listOrder: (alias: string) => string;
  /** The text of a row's cursor key (its JSON array). */
  cursorKey: (alias: string) => string;
  node: (alias: string) => Value;
  totalCount: Value | null;
};

/**
 * Builds the statement. Its aliases: `one`, the conversation of `conversation(id)`; a connection's, by its
 * level (`c` for conversations, `m` for messages) and what they hold: `cq` its rows as read, `cr` each
 * numbered in reading order, `cp` the page aggregated from them.
 */
class Statement {
  /** The most messages the statement may show. */
  messagesShown = 0;
  /** How many conversations a page of messages is shown for (a list's page size, or one). */
  private perPage = 1;

  constructor(private readonly inputs: StatementInputs) {}

  root(plan: Plan): Value {
    return object(
      plan.root.map(({ key, part }) => {
        if (part.kind === 'typename') return [key, text('Query')];
        if (part.kind === 'conversations') return [key, this.conversations(part.page)];
        const { id } = this.argumentsOf<{ id: string }>('Query', part.field);
        const decoded = decodeGlobalId(id);
        if (decoded.typename !== 'Conversation') throw new ForTheExecutor();
        const columns = selectList('one', columnsOf(part.node, ['id', 'currentMessageId', 'messageCount']));
        const node = this.conversation(part.node, 'one');
        const own = ownConversationsSql(STAND_IN, 'one');
        return [key, value(Prisma.sql`(SELECT ${node.sql} FROM (SELECT ${columns} FROM "Conversation" AS one WHERE one."id" = ${decoded.id} AND ${own}) AS one)`, node.finish)];
      }),
    );
  }

  private conversations(page: Page<ConversationPart>): Value {
    const args = this.argumentsOf<ConversationListArgs>('Query', page.field);
    if (args.filter?.search?.trim()) throw new ForTheExecutor(); // a search is charged by its time
    const extraRow = asksForMore(page);
    const query = conversationPageQuery(STAND_IN, args, { extraRow });
    const kind = `conversations:${args.orderBy ?? 'UPDATED_AT_DESC'}`;
    const { column, direction } = query.order;
    const readDirection = (query.request.backward ? (direction === 'desc' ? 'asc' : 'desc') : direction).toUpperCase();
    const listDirection = direction.toUpperCase();
    const nodes = nodesOf(page);
    // Each conversation of the page may show a page of messages.
    this.perPage = query.request.limit;
    return this.connection(page, {
      type: 'Conversation',
      level: 'c',
      request: query.request,
      extraRow,
      rows: query.rows(selectList('c', columnsOf(nodes, ['id', 'currentMessageId', 'messageCount', column]))),
      readOrder: (a) => `${a}."${column}" ${readDirection}, ${a}."id" ${readDirection}`,
      listOrder: (a) => `${a}."${column}" ${listDirection}, ${a}."id" ${listDirection}`,
      cursorKey: (a) => `'["${kind}",' || (extract(epoch from ${a}."${column}") * 1000)::bigint || ',' || to_json(${a}."id")::text || ']'`,
      node: (a) => this.conversation(nodes, a),
      totalCount: null, // a count of the list: charged (schema/costly.ts)
    });
  }

  private conversation(node: Selected<ConversationPart>, alias: string): Value {
    return object(node.map(({ key, part }) => [key, part.kind === 'messages' ? this.messages(part.page, alias) : partValue(part, alias)]));
  }

  /** The branch shown of the conversation `conversation` (an alias). */
  private messages(page: Page<MessagePart>, conversation: string): Value {
    const args = this.argumentsOf<ConnectionArgs & { roles?: unknown[] | null; leafId?: unknown }>('Conversation', page.field);
    if (args.roles?.length || args.leafId != null) throw new ForTheExecutor();
    const request = pageRequest(args, messageCursor, DEFAULT_MESSAGE_PAGE);
    this.messagesShown += request.limit * this.perPage;
    const extraRow = asksForMore(page);
    const range = { after: request.after?.[0] ?? null, before: request.before?.[0] ?? null, limit: request.limit + (extraRow ? 1 : 0), backward: request.backward, roles: null };
    const nodes = nodesOf(page);
    const ends = Prisma.sql`(VALUES (${raw(conversation)}."id", ${raw(conversation)}."currentMessageId"))`;
    return this.connection(page, {
      type: 'Message',
      level: 'm',
      request,
      extraRow,
      rows: branchRowsQuery(ends, range, selectList('m', columnsOf(nodes, ['id', 'position']))),
      readOrder: (a) => `${a}."position" ${request.backward ? 'DESC' : 'ASC'}`,
      listOrder: (a) => `${a}."position" ASC`,
      cursorKey: (a) => `'["messages",' || ${a}."position" || ']'`,
      node: (a) => object(nodes.map(({ key, part }) => [key, partValue(part, a)])),
      // A branch holds one message per position: its length is its leaf's.
      totalCount: value(`(CASE WHEN ${conversation}."currentMessageId" IS NULL THEN 0 ELSE ${conversation}."messageCount" END)`),
    });
  }

  /**
   * A connection as buildConnection makes it: the first `limit` rows read, in the list's order; more to come
   * when a row beyond them was read; the side it came from has more when it came from a cursor.
   */
  private connection(page: Page<unknown>, shape: PageShape): Value {
    const [rows, row, agg] = ['q', 'r', 'p'].map((suffix) => shape.level + suffix);
    const { limit, backward, after, before } = shape.request;
    // With a row beyond the page, the rows are numbered in reading order and the page is those up to `limit`
    // (the page size as a value, not in the text: one kept statement serves every size, row-reads.ts);
    // otherwise every row read is shown, in the list's order.
    const { extraRow } = shape;
    const filtered = (sql: Prisma.Sql) => (extraRow ? Prisma.sql`${sql} FILTER (WHERE ${raw(row)}.rn <= ${limit}::int)` : sql);
    const listOrder = raw(extraRow ? `${row}.rn ${backward ? 'DESC' : 'ASC'}` : shape.listOrder(row));
    const numbered = extraRow ? Prisma.sql`, row_number() OVER (ORDER BY ${raw(shape.readOrder(rows))}) AS rn` : Prisma.empty;
    const hasMore = value(Prisma.sql`(${raw(agg)}.n > ${limit}::int)`);
    const aggregates = new Map([['n', raw('count(*) AS n')]]);
    const parts = page.parts.map(({ key, part }): [string, Value] => {
      if (part.kind === 'typename') return [key, text(`${shape.type}Connection`)];
      if (part.kind === 'totalCount') {
        if (!shape.totalCount) throw new ForTheExecutor();
        return [key, shape.totalCount];
      }
      if (part.kind === 'edges') {
        const edge = object(
          part.edge.map(({ key, part }) => {
            if (part.kind === 'typename') return [key, text(`${shape.type}Edge`)];
            if (part.kind === 'cursor') return [key, value(shape.cursorKey(row), cursorOf)];
            return [key, shape.node(row)];
          }),
        );
        const name = `"edges ${key}"`;
        aggregates.set(name, Prisma.sql`coalesce(${filtered(Prisma.sql`json_agg(${edge.sql} ORDER BY ${listOrder})`)}, '[]'::json) AS ${raw(name)}`);
        return [key, value(`${agg}.${name}`, edge.finish && eachOf(edge.finish))];
      }
      if (part.info.some(({ part }) => part === 'startCursor' || part === 'endCursor')) {
        aggregates.set('cursors', Prisma.sql`array_to_json(${filtered(Prisma.sql`array_agg(${raw(shape.cursorKey(row))} ORDER BY ${listOrder})`)}) AS cursors`);
      }
      const info = part.info.map(({ key, part }): [string, Value] => {
        if (part === '__typename') return [key, text('PageInfo')];
        if (part === 'hasNextPage') return [key, backward ? bool(before !== null) : hasMore];
        if (part === 'hasPreviousPage') return [key, backward ? hasMore : bool(after !== null)];
        const at = part === 'startCursor' ? '0' : `json_array_length(${agg}.cursors) - 1`;
        return [key, value(`(${agg}.cursors ->> ${at})`, cursorOf)];
      });
      return [key, object(info)];
    });
    const connection = object(parts);
    return value(
      Prisma.sql`(SELECT ${connection.sql} FROM (
        SELECT ${Prisma.join([...aggregates.values()], ', ')}
        FROM (SELECT ${raw(rows)}.*${numbered} FROM (${shape.rows}) AS ${raw(rows)}) AS ${raw(row)}
      ) AS ${raw(agg)})`,
      connection.finish,
    );
  }

  /** A field's arguments as the executor coerces them (its errors thrown: the executor answers them). */
  private argumentsOf<A>(typeName: string, field: FieldNode): A {
    const type = this.inputs.schema.getType(typeName);
    const definition = isObjectType(type) ? type.getFields()[field.name.value] : undefined;
    if (!definition) throw new ForTheExecutor();
    return getArgumentValues(definition, field, this.inputs.variables) as A;
  }
}
