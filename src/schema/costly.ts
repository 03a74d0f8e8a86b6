// Fields whose cost grows with what a viewer has stored (a context window, a search through every
// message): resolved at most once per request, and never for each event of a subscription, so that
// aliases, lists and a socket full of subscriptions cannot multiply them.
import type { Context } from '../context.ts';
import { invalidField } from '../errors.ts';
import { scan } from '../scans.ts';
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

/** The bytes of stored text this response (or event) may carry. */
export const textLimit = (ctx: Context) => (ctx.inSubscriptionEvent ? MAX_EVENT_BYTES : MAX_RESPONSE_BYTES);
/** The refusal of a field past what the response (or event) may carry of stored text. */
export const tooMuchText = (ctx: Context, field: string) => invalidField(field, `this response would hold more than ${textLimit(ctx)} bytes of stored text; ask for fewer`);

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
