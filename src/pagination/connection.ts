// Cursor Connections: argument rules, opaque cursors, and building a page from a keyset query's rows.
import { invalidField, badUserInput } from '../errors.ts';

export const MAX_PAGE_SIZE = 100;

export type ConnectionArgs = {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
};

/** What a keyset query needs: how many rows, which way, and the bounds (already decoded). */
export type PageRequest<K> = {
  limit: number;
  /** `last`/`before`: read from the end, then put back in order. */
  backward: boolean;
  after: K | null;
  before: K | null;
};

export type Edge<T> = { cursor: string; node: T };
export type Connection<T> = {
  edges: Edge<T>[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: Total;
};

/**
 * A list's length: a number when it is known already (a branch's, from its leaf's position), else a count
 * run only when `totalCount` is asked for, and charged then (schema/costly.ts: each reads every row).
 */
export type Total = number | (() => Promise<number>);

export type CursorCodec<K> = { encode: (key: K) => string; decode: (cursor: string) => K | null };

export function pageRequest<K>(args: ConnectionArgs, codec: CursorCodec<K>, defaultSize: number): PageRequest<K> {
  const { first, last } = args;
  if (first != null && last != null) throw badUserInput('Pass either first or last, not both', [{ field: 'last', message: 'cannot be combined with first' }]);
  for (const [field, value] of [['first', first], ['last', last]] as const) {
    if (value != null && (value < 0 || value > MAX_PAGE_SIZE)) throw invalidField(field, `must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  return {
    limit: first ?? last ?? defaultSize,
    backward: last != null,
    after: decodeBound(args.after, codec, 'after'),
    before: decodeBound(args.before, codec, 'before'),
  };
}

function decodeBound<K>(cursor: string | null | undefined, codec: CursorCodec<K>, field: string): K | null {
  if (cursor == null) return null;
  const key = codec.decode(cursor);
  if (key === null) throw invalidField(field, 'is not a cursor of this list');
  return key;
}

/**
 * `rows`: at most limit + 1 rows in reading order (reversed when backward); the extra row only tells that
 * there is more.
 */
export function buildConnection<T, K>(
  rows: T[],
  request: PageRequest<K>,
  keyOf: (row: T) => K,
  codec: CursorCodec<K>,
  totalCount: Total,
): Connection<T> {
  const hasMore = rows.length > request.limit;
  const page = rows.slice(0, request.limit);
  if (request.backward) page.reverse();
  const edges = page.map((node) => new PageEdge(node, () => codec.encode(keyOf(node))));
  return {
    edges,
    pageInfo: {
      // Rows beyond the bound we came from are known to exist when a cursor was given.
      hasNextPage: request.backward ? request.before !== null : hasMore,
      hasPreviousPage: request.backward ? hasMore : request.after !== null,
      get startCursor() {
        return edges[0]?.cursor ?? null;
      },
      get endCursor() {
        return edges.at(-1)?.cursor ?? null;
      },
    },
    totalCount,
  };
}

/** An edge whose cursor is made when asked for: most pages are read without their cursors. */
class PageEdge<T> implements Edge<T> {
  readonly node: T;
  readonly #encode: () => string;
  #cursor: string | undefined;

  constructor(node: T, encode: () => string) {
    this.node = node;
    this.#encode = encode;
  }

  get cursor(): string {
    return (this.#cursor ??= this.#encode());
  }
}

/**
 * Longer than any cursor made here (a kind, a time and an id of at most 64 characters: under 200), a cursor
 * is refused before it is parsed: a forged one of 2 MiB of nested brackets held the event loop for seconds,
 * and each field given it parsed it again.
 */
const MAX_CURSOR_LENGTH = 256;

/** An opaque cursor: base64url of a JSON array that starts with the list's kind, checked on decode. */
export function cursorCodec<K extends readonly unknown[]>(kind: string, isKey: (values: unknown[]) => values is [...K]): CursorCodec<K> {
  return {
    encode: (key) => Buffer.from(JSON.stringify([kind, ...key])).toString('base64url'),
    decode: (cursor) => {
      if (cursor.length > MAX_CURSOR_LENGTH) return null;
      try {
        const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
        if (!Array.isArray(values) || values[0] !== kind) return null;
        const key = values.slice(1);
        return isKey(key) ? (key as unknown as K) : null;
      } catch {
        return null;
      }
    },
  };
}

/** Milliseconds of the years 0001 to 9999: what a stored time can be (and a PostgreSQL timestamp can hold). */
const isStorableTime = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= -62_135_596_800_000 && (value as number) <= 253_402_300_799_999;
/** Ids are uuids: a cursor holding anything longer, or a NUL, was not made here. */
const isStorableId = (value: unknown) => typeof value === 'string' && value.length <= 64 && !value.includes('\0');
const isPositiveInt4 = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 2_147_483_647;

export const isTimeAndId = (values: unknown[]): values is [number, string] => values.length === 2 && isStorableTime(values[0]) && isStorableId(values[1]);

export const isPosition = (values: unknown[]): values is [number] => values.length === 1 && isPositiveInt4(values[0]);

export const isPositionAndId = (values: unknown[]): values is [number, string] => values.length === 2 && isPositiveInt4(values[0]) && isStorableId(values[1]);
