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
 * Stored values by row and column, read for one request (or for one event's subscribers of one viewer), each
 * once: at most `ceilingBytes` of them in all, and what each response may carry for the reader it reads
 * through (`reader`). Sizes are counted as PostgreSQL holds them (a text's octet_length, read from its
 * pointer without the text; a JSON value's as text, which PostgreSQL writes with a space after each `:` and
 * `,`, so JSON counts somewhat more than it is sent as). Batches are read one after another, each within what
 * those before it left.
 */
export class StoredValues {
  readonly #readRows: ReadRows;
  /**
   * The values read so far, by key (GONE for a row deleted since). The subscribers of one event share these,
   * and each of them asking a promise for every value it shows cost the event some 50 µs more per subscriber
   * (bench/fanout.ts).
   */
  readonly #read = new Map<string, unknown>();
  #remaining: number;
  #previous: Promise<unknown> = Promise.resolve();

  /**
   * (A subscription holds its last event's store until its next event: what it holds is what its readers read,
   * each within its budget, so a subscription keeps no more than one response's worth, as before they were shared.)
   */
  constructor(readRows: ReadRows, ceilingBytes: number) {
    this.#readRows = readRows;
    this.#remaining = ceilingBytes;
  }

  /**
   * What one response reads through, within `budgetBytes` of values it has not found read already: two
   * subscriptions of a viewer that show other values of one event (a conversation's system prompt, the
   * message's content) each read theirs, where one budget for both refused the second.
   */
  reader(budgetBytes: number): StoredValueReader {
    return new StoredValueReader(this, budgetBytes);
  }

  /** The value of `key` if it has been read; undefined if not yet. */
  readValue(key: StoredValueKey): unknown {
    return this.#read.get(keyOf(key));
  }

  /**
   * Reads a batch within what is left of `budget` (taken from it) and of the ceiling: its values, WITHHELD
   * past either (and those after it in the batch). Batches run one after another, so a value another reader's
   * batch was reading when this one was asked for is taken as read, not read again; one withheld from that
   * reader is read here, within this budget.
   */
  readBatch(keys: readonly StoredValueKey[], budget: Budget): Promise<unknown[]> {
    const batch = this.#previous.then(async () => {
      const values = keys.map((key) => this.#read.get(keyOf(key)));
      const unread = keys.flatMap((_, i) => (values[i] === undefined ? [i] : []));
      if (!unread.length) return values;
      const query = batchQuery(unread.map((i) => keys[i]), Math.min(budget.remaining, this.#remaining));
      const rows = await this.#readRows<{ i: number; bytes: number | null; within: boolean; text: string | null; json: unknown }>(query);
      for (const i of unread) values[i] = GONE; // until its row says otherwise
      let bytes = 0;
      for (const row of rows) {
        values[unread[row.i]] = row.within ? (row.text ?? row.json) : WITHHELD; // (a null value is within whatever is left)
        if (row.within) bytes += row.bytes ?? 0;
      }
      this.#remaining -= bytes;
      budget.remaining -= bytes;
      for (const i of unread) if (values[i] !== WITHHELD) this.#read.set(keyOf(keys[i]), values[i]); // (another reader may have room for a withheld one)
      return values;
    });
    this.#previous = batch.catch(() => {});
    return batch;
  }
}

/** Bytes of stored values a reader may still read. */
type Budget = { remaining: number };

/** One response's way to stored values: those read already, else read with the others it asks for in the same tick. */
export class StoredValueReader {
  readonly #values: StoredValues;
  /** Made at its first value not read already (an event's later subscribers find theirs read). */
  #loader: DataLoader<StoredValueKey, unknown, string> | undefined;
  /** Those past its budget. */
  readonly #withheld = new Set<string>();
  readonly #budget: Budget;

  constructor(values: StoredValues, budgetBytes: number) {
    this.#values = values;
    this.#budget = { remaining: budgetBytes };
  }

  /** The value of `key` (or WITHHELD, or GONE). */
  load(key: StoredValueKey): Promise<unknown> {
    const read = this.readValue(key);
    if (read !== undefined) return Promise.resolve(read);
    this.#loader ??= new DataLoader<StoredValueKey, unknown, string>((keys) => this.#readBatch(keys), { cacheKeyFn: keyOf });
    return this.#loader.load(key);
  }

  loadMany(keys: StoredValueKey[]): Promise<unknown[]> {
    return Promise.all(keys.map((key) => this.load(key)));
  }

  /** The value of `key` if it has been read (WITHHELD if past this reader's budget); undefined if not yet. */
  readValue(key: StoredValueKey): unknown {
    return this.#withheld.size > 0 && this.#withheld.has(keyOf(key)) ? WITHHELD : this.#values.readValue(key);
  }

  async #readBatch(keys: readonly StoredValueKey[]): Promise<unknown[]> {
    const values = await this.#values.readBatch(keys, this.#budget);
    keys.forEach((key, i) => {
      if (values[i] === WITHHELD) this.#withheld.add(keyOf(key));
      this.#loader!.clear(key); // read (or withheld): its promise resolves with these values all the same
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
