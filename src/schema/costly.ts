// Fields whose cost grows with what a viewer has stored (a context window, a search through every
// message): resolved at most once per request, and never for each event of a subscription, so that
// aliases, lists and a socket full of subscriptions cannot multiply them.
import type { Context } from '../context.ts';
import { invalidField, notFound } from '../errors.ts';
import { scan } from '../scans.ts';
import { GONE, STORED_COLUMNS, WITHHELD, type StoredValueKey } from '../stored-values.ts';
import { MAX_EVENT_BYTES, MAX_RESPONSE_BYTES } from '../response-limits.ts';

/**
 * List items one response (or event) may carry. Pages are counted before an operation runs
 * (operation-cost.ts), but how many messages a context window holds is known only once it is read: its
 * messages (each as the fields below it) and the pages below them are counted here, as they come.
 */
export const MAX_RESPONSE_ITEMS = 25_000;

/** Counts a list's items into the response; refuses the field past the limit (the rest of the response stands). */
export function chargeItems(ctx: Context, items: number, field: string): void {
  ctx.listItems += items;
  if (ctx.listItems > MAX_RESPONSE_ITEMS) throw invalidField(field, `this response would hold more than ${MAX_RESPONSE_ITEMS} items of lists; ask for fewer`);
}

/** Counts a JSON value (metadata, tool calls, tools) into the response as its text. */
export function chargeJson<T>(ctx: Context, value: T, field: string): T {
  if (value != null) chargeBytes(ctx, Buffer.byteLength(JSON.stringify(value), 'utf8'), field);
  return value;
}

/** Counts `text` into the response; refuses the field past the limit (the rest of the response stands). */
export function chargeText(ctx: Context, text: string, field: string): string {
  chargeBytes(ctx, jsonBytes(text), field);
  return text;
}

function chargeBytes(ctx: Context, bytes: number, field: string): void {
  ctx.textBytes += bytes;
  if (ctx.textBytes > textLimit(ctx)) throw tooMuchText(ctx, field);
}

const textLimit = (ctx: Context) => (ctx.inSubscriptionEvent ? MAX_EVENT_BYTES : MAX_RESPONSE_BYTES);
const tooMuchText = (ctx: Context, field: string) => invalidField(field, `this response would hold more than ${textLimit(ctx)} bytes of stored text; ask for fewer`);

type MaybePromise<T> = T | Promise<T>;
type StoredField<T extends StoredValueKey['table']> = Extract<StoredValueKey, { table: T }>['column'];

/**
 * A row's stored value (src/stored-values.ts), counted into the response: as the row was read with it (by a
 * service: a mutation's result, a context window), or else read now, within what the request may still read.
 */
function stored<T extends StoredValueKey['table'], V>(ctx: Context, table: T, row: { id: string }, column: StoredField<T>, charge: (value: NonNullable<V>) => V): MaybePromise<V | null> {
  const value = (row as Record<string, unknown>)[column] as V | null | undefined;
  if (value !== undefined) return value === null ? null : charge(value);
  const key = { table, column, id: row.id } as StoredValueKey;
  const taken = (read: unknown): V | null => {
    if (read === WITHHELD) throw tooMuchText(ctx, column);
    if (read === GONE) throw notFound(table); // deleted since its row was read
    return read === null ? null : charge(read as NonNullable<V>);
  };
  const read = ctx.loaders.storedValue.readValue(key); // read already (for another subscriber of this event, say)
  return read !== undefined ? taken(read) : ctx.loaders.storedValue.load(key).then(taken);
}

/**
 * Reads the stored values a list's `fields` show for its rows before they resolve: each field then takes its
 * value as read, not through a promise of its own (a sidebar's 50 contents, for each of 400 subscribers of an
 * event, made the event cost some 100 µs more per subscriber: bench/fanout.ts). A failure is left to the fields.
 */
export async function readStoredValues<T extends StoredValueKey['table']>(ctx: Context, table: T, rows: readonly { id: string }[], fields: ReadonlySet<string>): Promise<void> {
  const keys: StoredValueKey[] = [];
  for (const column of STORED_COLUMNS[table] as readonly StoredField<T>[]) {
    if (!fields.has(column)) continue;
    for (const row of rows) {
      if ((row as Record<string, unknown>)[column] !== undefined) continue;
      const key = { table, column, id: row.id } as StoredValueKey;
      if (ctx.loaders.storedValue.readValue(key) === undefined) keys.push(key); // (read for another subscriber)
    }
  }
  if (keys.length > 0) await ctx.loaders.storedValue.loadMany(keys).catch(() => {});
}

/** A stored text (a message's content or reasoning, a system prompt), counted into the response. */
export function storedText<T extends StoredValueKey['table']>(ctx: Context, table: T, row: { id: string }, column: StoredField<T>): MaybePromise<string | null> {
  return stored<T, string>(ctx, table, row, column, (text) => chargeText(ctx, text, column));
}

/** A stored JSON value (tool calls, tools, metadata), counted into the response. */
export function storedJson<T extends StoredValueKey['table']>(ctx: Context, table: T, row: { id: string }, column: StoredField<T>): MaybePromise<unknown> {
  return stored<T, unknown>(ctx, table, row, column, (value) => chargeJson(ctx, value, column));
}

/** Characters JSON writes escaped: control characters, quote and backslash; and lone surrogates. */
const ESCAPED = /[\u0000-\u001f"\\]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** The bytes a string takes in a JSON response (UTF-8, escapes included), without encoding it. */
export function jsonBytes(text: string): number {
  let bytes = Buffer.byteLength(text, 'utf8') + 2;
  if (!ESCAPED.test(text) && !LONE_SURROGATE.test(text)) return bytes;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22 || code === 0x5c) bytes += 1; // \" and \\
    else if (code < 0x20) bytes += code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d ? 1 : 5; // \n, or \u0001
    else if (code >= 0xd800 && code <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++; // a pair: its 4 bytes are counted
    else if (code >= 0xd800 && code <= 0xdfff) bytes += 3; // lone: \udXXX, where UTF-8 counted 3
  }
  return bytes;
}

/**
 * Lists one response may count row by row (a `totalCount` but a branch's length, which is known). Each is a
 * scan of what the viewer stored: thirty aliases of a count over forty long branches held the embedded
 * database, and with it the event loop, for 13 s.
 */
export const MAX_RESPONSE_COUNTS = 10;

/** Runs `count` for a `totalCount`, charged against the response's counts; none in a subscription's events (every event would count again). */
export function countRows(ctx: Context, count: () => Promise<number>): Promise<number> {
  refuseInEvents(ctx, 'totalCount');
  if (++ctx.counts > MAX_RESPONSE_COUNTS) throw invalidField('totalCount', `a response may count at most ${MAX_RESPONSE_COUNTS} lists; ask for fewer totals`);
  return scan(ctx, count); // a scan of the rows (scans.ts)
}

export function chargeCostly(ctx: Context, field: string): void {
  refuseInEvents(ctx, field);
  const costly = (ctx.costly ??= new Set());
  if (costly.has(field)) throw invalidField(field, 'may be asked for once per request');
  costly.add(field);
}

function refuseInEvents(ctx: Context, field: string): void {
  if (ctx.inSubscriptionEvent) throw invalidField(field, 'is not available in subscription events; query it');
}
