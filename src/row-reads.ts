// Hot reads (lists of conversations, pages of messages) straight through the driver. Prisma's raw queries
// map every cell of a result again after the driver has (some 0.9 µs a cell here: half the cost of a page's
// read); these statements are built with Prisma.sql all the same, and their rows come as the driver parses
// them, with the differences from Prisma's fixed: a `timestamp` (without time zone, as Prisma stores it)
// is UTC, and a BIGINT a bigint.
import type { PGlite } from '@electric-sql/pglite';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { SpanStatusCode } from '@opentelemetry/api';
import { Prisma } from './generated/prisma/client.ts';
import { tracer } from './observability/tracing.ts';

/** A statement and its values (`$1`…), as Prisma.sql builds it. */
export type SqlQuery = Pick<Prisma.Sql, 'text' | 'values'>;

/**
 * The rows of a SELECT, each an object by column name: numbers, text, booleans, JSON parsed, enums as text,
 * times as Dates, BIGINTs as bigints. `kept`: a statement run again and again with other values, whose plan
 * is worth keeping (see KeptStatements); its result's columns must never change with the tables' (no `*`).
 */
export type ReadRows = <Row>(query: SqlQuery, options?: { kept?: boolean }) => Promise<Row[]>;

const TIMESTAMP_OID = 1114;
const BIGINT_OID = 20;

/** Both drivers read a `timestamp` in the process's time zone; Prisma writes and reads them as UTC. */
const utcTimestamp = (text: string) => new Date(`${text.replace(' ', 'T')}Z`);
/** A BIGINT is a bigint, as Prisma gives it (pg gives text). */
const PARSERS: Record<number, (text: string) => unknown> = { [TIMESTAMP_OID]: utcTimestamp, [BIGINT_OID]: BigInt };

const POOL_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => PARSERS[oid] ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * `alias."a", alias."b"` for the columns given. The names come from the schema's own lists
 * (src/schema/row-columns.ts, src/stored-values.ts), never from a client.
 */
export function selectList(alias: string, columns: readonly string[]): Prisma.Sql {
  return Prisma.raw(columns.map((column) => `${alias}."${column}"`).join(', '));
}

/** `preparedStatements`: statements read as `kept` are prepared on each connection (DATABASE_PREPARED_STATEMENTS). */
export function poolReads(pool: pg.Pool, observe: ((sql: string) => void) | undefined, { preparedStatements = true } = {}): ReadRows {
  const kept = new KeptStatements();
  return traced(observe, async <Row>({ text, values }: SqlQuery, options?: { kept?: boolean }) => {
    const name = preparedStatements && options?.kept ? kept.nameOf(text) : undefined;
    return (await pool.query({ name, text, values, types: POOL_TYPES })).rows as Row[];
  });
}

/**
 * Statements prepared on each connection of the pool, their plans kept by PostgreSQL: planning a sidebar's
 * statement (src/sql-pages/) cost it about as much as running it, and a page served at half the rate. A
 * text is kept from the second time it runs (a one-off document takes no place), at most MAX_KEPT of them:
 * each costs every connection some 330 KB of PostgreSQL's memory. Past that, statements are planned each
 * time they run, as any other: a client that fills the places with documents of its own slows the pages of
 * documents that come later, and nothing else. A pooler in front of PostgreSQL that hands each statement
 * to any of its connections must keep prepared statements (PgBouncer 1.21 and later, with
 * max_prepared_statements), or DATABASE_PREPARED_STATEMENTS=false turns them off.
 */
export class KeptStatements {
  static readonly MAX_KEPT = 16;
  /** Texts seen once, by their digest (a text may be tens of KB), to keep when they come again; cleared when full. */
  static readonly MAX_SEEN = 1_000;
  readonly #names = new Map<string, string>();
  readonly #seen = new Set<string>();

  nameOf(text: string): string | undefined {
    const name = this.#names.get(text);
    if (name || this.#names.size >= KeptStatements.MAX_KEPT) return name;
    const digest = createHash('sha256').update(text).digest('base64');
    if (!this.#seen.delete(digest)) {
      if (this.#seen.size >= KeptStatements.MAX_SEEN) this.#seen.clear();
      this.#seen.add(digest);
      return undefined;
    }
    const kept = `kept-${this.#names.size + 1}`;
    this.#names.set(text, kept);
    return kept;
  }
}

export function pgliteReads(pglite: PGlite, observe: ((sql: string) => void) | undefined): ReadRows {
  return traced(observe, async <Row>({ text, values }: SqlQuery) => (await pglite.query<Row>(text, values, { parsers: PARSERS })).rows);
}

/** Each statement is observed as Prisma's are (tests count them), and is a span of the operation's trace. */
function traced(observe: ((sql: string) => void) | undefined, read: ReadRows): ReadRows {
  return async <Row>(query: SqlQuery, options?: { kept?: boolean }) => {
    observe?.(query.text);
    const span = tracer().startSpan('db.query', { attributes: { 'db.system': 'postgresql', 'db.statement': query.text } });
    try {
      return await read<Row>(query, options);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  };
}
