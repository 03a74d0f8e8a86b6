// The fields that show a row's stored values (src/stored-values.ts): rows read for a response come without
// them, and each field takes its value through the response's reader, counted into the response as it comes.
import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.ts';
import { notFound } from '../errors.ts';
import { GONE, STORED_COLUMNS, WITHHELD, type StoredValueKey } from '../stored-values.ts';
import { chargeJson, chargeText, textLimit, tooMuchText } from './costly.ts';
import { fieldsAt } from './selection.ts';

type Table = StoredValueKey['table'];
type StoredField<T extends Table> = Extract<StoredValueKey, { table: T }>['column'];
type MaybePromise<T> = T | Promise<T>;

/** A stored text (a message's content or reasoning, a system prompt), counted into the response. */
export function storedText<T extends Table>(ctx: Context, table: T, row: { id: string }, column: StoredField<T>): MaybePromise<string | null> {
  return stored<T, string>(ctx, table, row, column, (text) => chargeText(ctx, text, column));
}

/** A stored JSON value (tool calls, tools, metadata), counted into the response. */
export function storedJson<T extends Table>(ctx: Context, table: T, row: { id: string }, column: StoredField<T>): MaybePromise<unknown> {
  return stored<T, unknown>(ctx, table, row, column, (value) => chargeJson(ctx, value, column));
}

/**
 * Reads the stored values a list of rows shows before their fields resolve (`path`: where the rows sit below
 * the list's field, `['edges', 'node']` for a connection): each field then takes its value as read, not through
 * a promise of its own (a sidebar's 50 contents, for each of 400 subscribers of an event, made the event cost
 * some 100 µs more per subscriber: bench/fanout.ts). A failure is left to the fields.
 */
export async function readListValues<T extends Table>(ctx: Context, info: GraphQLResolveInfo, path: readonly string[], table: T, rows: readonly { id: string }[]): Promise<void> {
  const fields = fieldsAt(info, path, { unconditional: true }); // (a value a directive may leave out is read by its field, if shown)
  const keys: StoredValueKey[] = [];
  for (const column of STORED_COLUMNS[table] as readonly StoredField<T>[]) {
    if (!fields.has(column)) continue;
    for (const row of rows) {
      if ((row as Record<string, unknown>)[column] !== undefined) continue; // read with its row (by a service)
      const key = { table, column, id: row.id } as StoredValueKey;
      if (readerOf(ctx).readValue(key) === undefined) keys.push(key); // (or for another subscriber)
    }
  }
  if (keys.length > 0) await readerOf(ctx).loadMany(keys).catch(() => {});
}

/** `readListValues` for a connection: the values its page's nodes show (not its +1 row, which no edge holds). */
export function readPageValues<T extends Table>(ctx: Context, info: GraphQLResolveInfo, table: T, page: { edges: readonly { node: { id: string } }[] }): Promise<void> {
  return readListValues(ctx, info, ['edges', 'node'], table, page.edges.map((edge) => edge.node));
}

/**
 * A row's stored value, counted into the response: as the row was read with it (by a service: a mutation's
 * result, say), or as the loader read it, or else read now, within what the request may still read.
 */
function stored<T extends Table, V>(ctx: Context, table: T, row: { id: string }, column: StoredField<T>, charge: (value: NonNullable<V>) => V): MaybePromise<V | null> {
  const value = (row as Record<string, unknown>)[column] as V | null | undefined;
  if (value !== undefined) return value === null ? null : charge(value);
  const key = { table, column, id: row.id } as StoredValueKey;
  const taken = (read: unknown): V | null => {
    if (read === WITHHELD) throw tooMuchText(ctx, column);
    if (read === GONE) throw notFound(table); // deleted since its row was read
    return read === null ? null : charge(read as NonNullable<V>);
  };
  const read = readerOf(ctx).readValue(key); // read already (by its list, or for another subscriber of this event)
  return read !== undefined ? taken(read) : readerOf(ctx).load(key).then(taken);
}

/** This response's reader of the loaders' stored values: it reads no more than the response may carry. */
const readerOf = (ctx: Context) => (ctx.storedValues ??= ctx.loaders.storedValues.reader(textLimit(ctx)));
