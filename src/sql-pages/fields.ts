// What each field of a page answered by one statement (src/sql-pages/) is in SQL: a JSON value as GraphQL's
// executor would serialise the field, over a row of its type, and the columns it reads; or a value that
// `finish` makes it once the statement's JSON is parsed, where that costs PostgreSQL more than it costs
// here (base64 of each ID took a third of a branch page's statement). A field not here sends the whole
// document to the executor. Each must answer exactly what its resolver does (src/schema/), a test
// compares the two (test/sql-pages.test.ts).
import { encodeGlobalID } from '@pothos/plugin-relay';

/** What the statement's value of a field becomes in the response. */
export type Finish = (value: unknown) => unknown;

/** A field over the row `alias`, the columns of the row it reads, and what becomes of its value. */
export type FieldSql = { columns: readonly string[]; sql: (alias: string) => string; finish?: Finish };

const column = (name: string): FieldSql => ({ columns: [name], sql: (a) => `${a}."${name}"` });
/** An enum is its value's name, as stored. */
const enumValue = (name: string): FieldSql => ({ columns: [name], sql: (a) => `${a}."${name}"::text` });
const literal = (text: string): FieldSql => ({ columns: [], sql: () => `'${text}'::text` });
/**
 * A DateTime as the scalar serialises it (`toISOString`: milliseconds, `Z`). The columns are timestamp(3),
 * UTC, years 1 to 9999, which JSON writes as `2026-01-31T12:00:00.5`: without a zone, and without the
 * fraction's trailing zeros (or the fraction, when it is zero).
 */
const time = (name: string): FieldSql => ({ columns: [name], sql: (a) => `${a}."${name}"`, finish: isoTime });
const isoTime: Finish = (at) => (at === null ? null : ((at as string).length === 19 ? `${at as string}.` : (at as string)).padEnd(23, '0') + 'Z');

/** A global ID as Pothos makes it: base64 of `Type:id`. */
export const globalIdOf =
  (type: string): Finish =>
  (id) =>
    encodeGlobalID(type, id as string);
const globalId = (type: string): FieldSql => ({ columns: ['id'], sql: (a) => `${a}."id"`, finish: globalIdOf(type) });

/** A cursor from the text of its key (its JSON array): base64url, as pagination/connection.ts makes it. */
export const cursorOf: Finish = (key) => (key === null ? null : Buffer.from(key as string).toString('base64url'));

export const CONVERSATION_FIELDS: Readonly<Record<string, FieldSql>> = {
  __typename: literal('Conversation'),
  id: globalId('Conversation'),
  title: column('title'),
  status: enumValue('status'),
  projectId: column('projectId'),
  agentId: column('agentId'),
  model: column('model'),
  version: column('version'),
  messageCount: column('messageCount'),
  totalTokens: { columns: ['totalTokens'], sql: (a) => `least(${a}."totalTokens", 2147483647)::int` }, // saturatedInt
  preview: column('preview'),
  lastMessageAt: time('lastMessageAt'),
  createdAt: time('createdAt'),
  updatedAt: time('updatedAt'),
  archivedAt: time('archivedAt'),
  deletedAt: time('deletedAt'),
};

/**
 * A message's siblings: the messages of its conversation under its parent (or, for a first message, the other
 * first messages), `where` over them as `s`. Two forms, so that each uses the (conversation, parent, index)
 * index: siblings.ts reads them so.
 */
const siblings = (a: string, select: string, where = 'TRUE') => `(CASE WHEN ${a}."parentId" IS NULL
  THEN (SELECT ${select} FROM "Message" s WHERE s."conversationId" = ${a}."conversationId" AND s."parentId" IS NULL AND ${where})
  ELSE (SELECT ${select} FROM "Message" s WHERE s."conversationId" = ${a}."conversationId" AND s."parentId" = ${a}."parentId" AND ${where}) END)`;
const SIBLING_COLUMNS = ['conversationId', 'parentId', 'siblingIndex'];

export const MESSAGE_FIELDS: Readonly<Record<string, FieldSql>> = {
  __typename: literal('Message'),
  id: globalId('Message'),
  position: column('position'),
  siblingIndex: column('siblingIndex'),
  role: enumValue('role'),
  content: column('content'),
  status: enumValue('status'),
  model: column('model'),
  toolCallId: column('toolCallId'),
  isError: column('isError'),
  finishReason: enumValue('finishReason'),
  tokens: column('tokens'),
  error: column('error'),
  createdAt: time('createdAt'),
  completedAt: time('completedAt'),
  reasoning: column('reasoning'),
  toolCalls: column('toolCalls'), // JSON as stored, as Prisma reads it
  siblingCount: { columns: SIBLING_COLUMNS, sql: (a) => `coalesce(${siblings(a, 'max(s."siblingIndex")')}, 0)` },
};

/**
 * A field whose value is a node of which only its `id` (and `__typename`) is asked for: the SQL of that id
 * over the row (NULL for none), as the resolver's loader would find it.
 */
export type LinkSql = { type: 'Message'; columns: readonly string[]; id: (alias: string) => string };

export const CONVERSATION_LINKS: Readonly<Record<string, LinkSql>> = {
  currentMessage: { type: 'Message', columns: ['currentMessageId'], id: (a) => `${a}."currentMessageId"` },
  // The reply now STREAMING (one at most: a turn is refused while another runs).
  activeGeneration: { type: 'Message', columns: ['id'], id: (a) => `(SELECT g."id" FROM "Message" g WHERE g."conversationId" = ${a}."id" AND g."status" = 'STREAMING' LIMIT 1)` },
};

export const MESSAGE_LINKS: Readonly<Record<string, LinkSql>> = {
  parent: { type: 'Message', columns: ['parentId'], id: (a) => `${a}."parentId"` },
  previousSibling: { type: 'Message', columns: SIBLING_COLUMNS, id: (a) => siblings(a, 's."id"', `s."siblingIndex" = ${a}."siblingIndex" - 1`) },
  nextSibling: { type: 'Message', columns: SIBLING_COLUMNS, id: (a) => siblings(a, 's."id"', `s."siblingIndex" = ${a}."siblingIndex" + 1`) },
};
