// The one PrismaClient and its driver adapter: PGlite (embedded, in-process) or a PostgreSQL server.
import fs from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient } from './generated/prisma/client.ts';
import { MIGRATIONS_DIR } from './migrate/engine.mjs';
import type { Logger } from './logger.ts';
import { pgliteReads, poolReads, type ReadRows } from './row-reads.ts';
import { openPool } from './postgres-pool.ts';
import { outsideAnyRequest } from './observability/request-context.ts';

export type Database = {
  prisma: PrismaClient;
  /** Hot reads, through the same connections, past Prisma's mapping of raw rows (src/row-reads.ts). */
  readRows: ReadRows;
  kind: 'pglite' | 'postgres';
  close: () => Promise<void>;
};

export type OpenDatabaseOptions = {
  log: Logger;
  /** Apply pending migrations first (the embedded database always does: nobody else would). */
  migrate?: boolean;
  poolSize?: number;
  /** How long PostgreSQL may run one statement; a connection silent for longer with one out is dropped (src/postgres-pool.ts). */
  statementTimeoutMs?: number;
  /** Hot pages' statements prepared on each connection of the pool (src/row-reads.ts): default true. */
  preparedStatements?: boolean;
  /** Called with every SQL statement the client sends (tests count them; LOG_LEVEL=trace logs them). */
  onQuery?: (sql: string) => void;
};

export async function openDatabase(url: string, { log, migrate = false, poolSize = 10, statementTimeoutMs = 30_000, preparedStatements = true, onQuery }: OpenDatabaseOptions): Promise<Database> {
  const observe = onQuery ?? (log.isLevelEnabled('trace') ? (sql: string) => log.trace({ sql }, 'sql') : undefined);
  // A burst of writes queues for a connection rather than failing after Prisma's default 2 s.
  const transactionOptions = { maxWait: 30_000, timeout: 30_000 };
  const clientFor = (adapter: SqlDriverAdapterFactory): PrismaClient => {
    if (!observe) return new PrismaClient({ adapter, transactionOptions });
    const prisma = new PrismaClient({ adapter, transactionOptions, log: [{ emit: 'event', level: 'query' }] });
    prisma.$on('query', (event) => observe(event.query));
    return prisma;
  };
  if (url.startsWith('pglite:')) {
    // Loaded only for the embedded database: a server on PostgreSQL holds none of PGlite.
    const [{ newPGlite, pgliteDataDir }, { PrismaPGlite }] = await Promise.all([import('./migrate/adapters.mjs'), import('pglite-prisma-adapter')]);
    const dir = pgliteDataDir(url);
    if (dir) fs.mkdirSync(dir, { recursive: true });
    const pglite = newPGlite(dir);
    await pglite.waitReady;
    // The schema engine (a large wasm) is loaded only when there is something to apply.
    const state = await migrationState((sql) => pglite.query<MigrationRow>(sql).then((r) => r.rows));
    if (state.pending.length || state.failed.length) await applyMigrations(pglite, log);
    const prisma = clientFor(new PrismaPGlite(pglite));
    return { prisma, readRows: pgliteReads(pglite, observe), kind: 'pglite', close: async () => (await prisma.$disconnect(), await pglite.close()) };
  }
  if (migrate) await applyMigrations(url, log);
  // One pool for Prisma and the hot reads; Prisma leaves a pool it was given open, so close ends it.
  const pool = openPool(url, { max: poolSize, statementTimeoutMs, genericPlans: preparedStatements });
  // The pool replaces it. (Outside the request whose statement opened the connection, which Node carries into its events.)
  pool.on('error', (err) => outsideAnyRequest(() => log.warn({ err }, 'an idle database connection failed')));
  const prisma = clientFor(new PrismaPg(pool));
  const close = async () => {
    try {
      await prisma.$disconnect();
    } finally {
      await pool.end();
    }
  };
  if (!migrate) {
    // A server database is migrated by `npm run db:migrate`; refuse to serve a schema older than the code.
    const { pending, failed, missingTable } = await migrationState((sql) => prisma.$queryRawUnsafe<MigrationRow[]>(sql));
    if (missingTable || pending.length || failed.length) {
      await close();
      throw new Error(`The database is not migrated (${pending.length} pending, ${failed.length} failed): run \`npm run db:migrate\``);
    }
  }
  return { prisma, readRows: poolReads(pool, observe, { preparedStatements }), kind: 'postgres', close };
}

export async function applyMigrations(target: string | PGlite, log: Logger): Promise<string[]> {
  const [{ openSchemaEngine, migrateDeploy }, { migrationAdapterFor }] = await Promise.all([import('./migrate/engine.mjs'), import('./migrate/adapters.mjs')]);
  const { adapterFactory, close } = migrationAdapterFor(target);
  try {
    const engine = await openSchemaEngine({ adapterFactory });
    const applied: string[] = await migrateDeploy(engine);
    if (applied.length) log.info({ applied }, 'database migrations applied');
    return applied;
  } finally {
    await close();
  }
}

type MigrationRow = { migration_name: string; finished_at: Date | null; rolled_back_at: Date | null };

/**
 * The migrations of prisma/migrations the database has not applied, and those that failed, read from
 * Prisma's own `_prisma_migrations` table: what `prisma migrate status` tells, without its engine.
 */
async function migrationState(query: (sql: string) => Promise<MigrationRow[]>): Promise<{ pending: string[]; failed: string[]; missingTable: boolean }> {
  const folders = fs
    .readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  const [{ migration_name: table }] = await query(`SELECT to_regclass('"_prisma_migrations"')::text AS migration_name, NULL AS finished_at, NULL AS rolled_back_at`);
  if (!table) return { pending: folders, failed: [], missingTable: true };
  const rows = await query(`SELECT migration_name, finished_at, rolled_back_at FROM "_prisma_migrations"`);
  const applied = new Set(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name));
  const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.migration_name);
  return { pending: folders.filter((name) => !applied.has(name)), failed, missingTable: false };
}
