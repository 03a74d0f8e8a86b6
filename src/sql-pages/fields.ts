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
 * A DateTime as the scalar serialises it (`toISOString`). The columns are timestamp(3), UTC, which JSON
 * writes as ISO 8601 without a zone and without the fraction's trailing zeros.
 */
const time = (name: string): FieldSql => ({ columns: [name], sql: (a) => `${a}."${name}"`, finish: (at) => (at === null ? null : new Date(`${at as string}Z`).toISOString()) });
/** A global ID as Pothos makes it: base64 of `Type:id`. */
const globalId = (type: string): FieldSql => ({ columns: ['id'], sql: (a) => `${a}."id"`, finish: (id) => encodeGlobalID(type, id as string) });

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
};
