// The large stored values of rows (a message's content, reasoning, tool calls and metadata; a conversation's
// system prompt, tools and metadata), read apart from their rows, and only as far as one response may carry
// them. Rows read for a response (pages, loaders, nodes) leave them out: read with their rows, fifty
// conversations' pages of 100 messages of 100,000 characters made one request read 470 MB into the process
// before the first 8 MB were counted against the response's limit; eight such requests at once ended it,
// out of heap (bench/RESULTS.md, "Stored text a request reads"). Here the values a response asks for are read in one
// statement per batch, in the order asked, and PostgreSQL sends none past what the request may still read.
import DataLoader from 'dataloader';
import { Prisma, type PrismaClient } from './generated/prisma/client.ts';
import type { ReadRows } from './row-reads.ts';

const TEXTS = { Message: ['content', 'reasoning'], Conversation: ['systemPrompt'] } as const;
const JSONS = { Message: ['toolCalls', 'metadata'], Conversation: ['tools', 'metadata'] } as const;

type Table = keyof typeof TEXTS;
/** The columns each table's rows are read without, that fields show. */
export const STORED_COLUMNS = { Message: [...TEXTS.Message, ...JSONS.Message], Conversation: [...TEXTS.Conversation, ...JSONS.Conversation] } as const;
type StoredColumn<T extends Table> = (typeof STORED_COLUMNS)[T][number];
export type StoredValueKey = { [T in Table]: { table: T; column: StoredColumn<T>; id: string } }[Table];

/** A value past what the request may read: the field that asks for it is refused. */
export const WITHHELD = Symbol('withheld');
/** The value of a row deleted since it was read. */
export const GONE = Symbol('gone');

/** Left out of rows read for a response too, though no field shows it: a reply's reasoning blocks, as large as the reply. */
const NEVER_SHOWN = { Message: ['reasoningParts'], Conversation: [] } as const;

const leftOut = (table: Table): readonly string[] => [...STORED_COLUMNS[table], ...NEVER_SHOWN[table]];
const allBut = (columns: Record<string, string>, table: Table) => Object.values(columns).filter((column) => !leftOut(table).includes(column));

/** The columns of the rows read for a response: all but their stored values. */
export const MESSAGE_ROW_COLUMNS: readonly string[] = allBut(Prisma.MessageScalarFieldEnum, 'Message');
export const CONVERSATION_ROW_COLUMNS: readonly string[] = allBut(Prisma.ConversationScalarFieldEnum, 'Conversation');

const omitOf = (table: Table) => Object.fromEntries(leftOut(table).map((column) => [column, true]));
/** Prisma's `omit` of them. */
export const OMIT_STORED_VALUES = { message: omitOf('Message'), conversation: omitOf('Conversation') };

/**
 * The client node(id) and nodes(ids) load their rows with (Pothos' prismaNode): Message and Conversation rows
 * come without their stored values. One per client.
 */
export function prismaForNodes(prisma: PrismaClient): PrismaClient {
  let client = forNodes.get(prisma);
  if (!client) forNodes.set(prisma, (client = withoutStoredValues(prisma)));
  return client;
}

const forNodes = new WeakMap<PrismaClient, PrismaClient>();

type Read = { args: { select?: unknown }; query: (args: object) => Promise<unknown> };

function withoutStoredValues(prisma: PrismaClient): PrismaClient {
  // A `select` names its columns already; anything else (include, or nothing) reads every scalar but these.
  const omitting = (omit: Record<string, boolean>) => {
    const read = ({ args, query }: Read) => query(args.select ? args : { ...args, omit });
    return { findUnique: read, findUniqueOrThrow: read };
  };
  return prisma.$extends({ query: { message: omitting(OMIT_STORED_VALUES.message), conversation: omitting(OMIT_STORED_VALUES.conversation) } }) as unknown as PrismaClient;
}

/**
 * Stored values by row and column, for one request (or one event's subscribers of one viewer): at most
 * `budgetBytes` of them in all (more for each subscriber that shares them: `share`), counted by their size in
 * PostgreSQL (a text's octet_length, read from its pointer without the text; a JSON value's as text, which
 * PostgreSQL writes with a space after each `:` and `,`, so JSON counts somewhat more than it is sent as). Batches are read one after another, each within what those before it
 * left; a value past it is WITHHELD, and so are those after it in its batch.
 */
export class StoredValues {
  readonly #readRows: ReadRows;
  readonly #loader: DataLoader<StoredValueKey, unknown, string>;
  /**
   * The values read so far, by key; the loader caches a key's promise only while it is read. The subscribers
   * of one event share these loaders, and each of them asking a promise for every value it shows cost the
   * event some 50 µs more per subscriber (bench/fanout.ts).
   */
  readonly #read = new Map<string, unknown>();
  #remaining: number;
  /** What they may read in all, shares included. */
  #granted: number;
  #previous: Promise<unknown> = Promise.resolve();

  constructor(readRows: ReadRows, budgetBytes: number) {
    this.#readRows = readRows;
    this.#remaining = this.#granted = budgetBytes;
    this.#loader = new DataLoader<StoredValueKey, unknown, string>(
      (keys) => {
        const batch = this.#previous.then(() => this.#readBatch(keys));
        this.#previous = batch.catch(() => {});
        return batch;
      },
      { cacheKeyFn: keyOf },
    );
  }

  /**
   * One more response reads these values (another subscriber of the same event): what it may carry is added
   * to what they may read, up to `ceilingBytes` in all. Each response is held to its own limit as it counts
   * what it shows (schema/costly.ts); this bounds what all of them read.
   */
  share(bytes: number, ceilingBytes: number): void {
    const added = Math.max(0, Math.min(bytes, ceilingBytes - this.#granted));
    this.#granted += added;
    this.#remaining += added;
  }

  /** The value of `key` (or WITHHELD, or GONE), read with the others asked for in the same tick. */
  load(key: StoredValueKey): Promise<unknown> {
    const read = this.readValue(key);
    return read === undefined ? this.#loader.load(key) : Promise.resolve(read);
  }

  loadMany(keys: StoredValueKey[]): Promise<unknown[]> {
    return Promise.all(keys.map((key) => this.load(key)));
  }

  /** The value of `key` if it has been read; undefined if not yet. */
  readValue(key: StoredValueKey): unknown {
    return this.#read.get(keyOf(key));
  }

  async #readBatch(keys: readonly StoredValueKey[]): Promise<unknown[]> {
    const rows = await this.#readRows<{ i: number; bytes: number | null; within: boolean; text: string | null; json: unknown }>(batchQuery(keys, this.#remaining));
    const values: unknown[] = keys.map(() => GONE); // until its row says otherwise
    for (const { i, bytes, within, text, json } of rows) {
      values[i] = within ? (text ?? json) : WITHHELD; // (a null value is within whatever is left)
      if (within) this.#remaining -= bytes ?? 0;
    }
    keys.forEach((key, i) => {
      this.#read.set(keyOf(key), values[i]);
      this.#loader.clear(key); // its promise resolves with these values all the same
    });
    return values;
  }
}

const keyOf = ({ table, column, id }: StoredValueKey) => `${table}.${column}:${id}`;

/** One statement for a batch: a part per table and column, the running total of their sizes in the keys' order. */
function batchQuery(keys: readonly StoredValueKey[], budgetBytes: number): Prisma.Sql {
  const parts = new Map<string, { table: Table; column: string; ids: string[]; at: number[] }>();
  keys.forEach(({ table, column, id }, i) => {
    const name = `${table}.${column}`;
    let part = parts.get(name);
    if (!part) parts.set(name, (part = { table, column, ids: [], at: [] }));
    part.ids.push(id);
    part.at.push(i);
  });
  const selects = [...parts.values()].map(({ table, column, ids, at }) => {
    // Names written into the statement: only those of STORED_COLUMNS, whatever a caller passed.
    if (!(STORED_COLUMNS[table] as readonly string[]).includes(column)) throw new Error(`${table}.${column} is not a stored value`);
    const value = Prisma.raw(`t."${column}"`);
    const isJson = (JSONS[table] as readonly string[]).includes(column);
    const [text, json, bytes] = isJson ? [Prisma.sql`NULL::text`, value, Prisma.sql`octet_length(${value}::text)`] : [value, Prisma.sql`NULL::jsonb`, Prisma.sql`octet_length(${value})`];
    return Prisma.sql`SELECT k.i, ${bytes} AS bytes, ${text} AS text, ${json} AS json
      FROM unnest(${ids}::text[], ${at}::int[]) AS k(id, i) JOIN ${Prisma.raw(`"${table}"`)} AS t ON t."id" = k.id`;
  });
  return Prisma.sql`
    SELECT v.i, v.bytes, v.within,
      CASE WHEN v.within THEN v.text END AS text, CASE WHEN v.within THEN v.json END AS json
    FROM (
      SELECT r.*, r.bytes IS NULL OR sum(r.bytes) OVER (ORDER BY r.i) <= ${budgetBytes}::bigint AS within
      FROM (${Prisma.join(selects, ' UNION ALL ')}) AS r
    ) AS v`;
}
