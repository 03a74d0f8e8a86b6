// Hot reads (lists of conversations, pages of messages) straight through the driver. Prisma's raw queries
// map every cell of a result again after the driver has (some 0.9 µs a cell here: half the cost of a page's
// read); these statements are built with Prisma.sql all the same, and their rows come as the driver parses
// them, with the differences from Prisma's fixed: a `timestamp` (without time zone, as Prisma stores it)
// is UTC, and a BIGINT a bigint.
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { SpanStatusCode } from '@opentelemetry/api';
import { Prisma } from './generated/prisma/client.ts';
import { tracer } from './observability/tracing.ts';

/** The rows of a SELECT, each an object by column name: numbers, text, booleans, JSON parsed, enums as text, times as Dates, BIGINTs as bigints. */
export type ReadRows = <Row>(query: Prisma.Sql) => Promise<Row[]>;

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
 * `alias."a", alias."b"` for the columns given, or `alias.*` for whole rows. The names come from the
 * schema's own list (src/schema/row-columns.ts), never from a client.
 */
export function selectList(alias: string, columns: readonly string[] | null): Prisma.Sql {
  return Prisma.raw(columns ? columns.map((column) => `${alias}."${column}"`).join(', ') : `${alias}.*`);
}

export function poolReads(pool: pg.Pool, observe: ((sql: string) => void) | undefined): ReadRows {
  return traced(observe, async <Row>({ text, values }: Prisma.Sql) => (await pool.query({ text, values, types: POOL_TYPES })).rows as Row[]);
}

export function pgliteReads(pglite: PGlite, observe: ((sql: string) => void) | undefined): ReadRows {
  return traced(observe, async <Row>({ text, values }: Prisma.Sql) => (await pglite.query<Row>(text, values, { parsers: PARSERS })).rows);
}

/** Each statement is observed as Prisma's are (tests count them), and is a span of the operation's trace. */
function traced(observe: ((sql: string) => void) | undefined, read: ReadRows): ReadRows {
  return async <Row>(query: Prisma.Sql) => {
    observe?.(query.text);
    const span = tracer().startSpan('db.query', { attributes: { 'db.system': 'postgresql', 'db.statement': query.text } });
    try {
      return await read<Row>(query);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  };
}
