// The one PrismaClient and its driver adapter: PGlite (embedded, in-process) or a PostgreSQL server.
import fs from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient } from './generated/prisma/client.ts';
import { openSchemaEngine, migrateDeploy, migrateStatus } from './migrate/engine.mjs';
import { migrationAdapterFor, newPGlite, pgliteDataDir } from './migrate/adapters.mjs';
import type { Logger } from './logger.ts';

export type Database = {
  prisma: PrismaClient;
  kind: 'pglite' | 'postgres';
  close: () => Promise<void>;
};

export type OpenDatabaseOptions = {
  log: Logger;
  /** Apply pending migrations first (the embedded database always does: nobody else would). */
  migrate?: boolean;
  poolSize?: number;
  /** Called with every SQL statement the client sends (tests count them; LOG_LEVEL=trace logs them). */
  onQuery?: (sql: string) => void;
};

export async function openDatabase(url: string, { log, migrate = false, poolSize = 10, onQuery }: OpenDatabaseOptions): Promise<Database> {
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
    const dir = pgliteDataDir(url);
    if (dir) fs.mkdirSync(dir, { recursive: true });
    const pglite = newPGlite(dir);
    await pglite.waitReady;
    await applyMigrations(pglite, log);
    const prisma = clientFor(new PrismaPGlite(pglite));
    return { prisma, kind: 'pglite', close: async () => (await prisma.$disconnect(), await pglite.close()) };
  }
  if (migrate) await applyMigrations(url, log);
  else await assertMigrated(url);
  const prisma = clientFor(new PrismaPg({ connectionString: url, max: poolSize }));
  return { prisma, kind: 'postgres', close: () => prisma.$disconnect() };
}

export async function applyMigrations(target: string | PGlite, log: Logger): Promise<string[]> {
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

/** A server database is migrated by `npm run db:migrate`; refuse to serve a schema older than the code. */
async function assertMigrated(url: string): Promise<void> {
  const { adapterFactory, close } = migrationAdapterFor(url);
  try {
    const engine = await openSchemaEngine({ adapterFactory });
    const status = await migrateStatus(engine);
    const pending: string[] = status.history?.unappliedMigrationNames ?? [];
    if (!status.hasMigrationsTable || pending.length || status.failedMigrationNames.length) {
      throw new Error(`The database is not migrated (${pending.length} pending, ${status.failedMigrationNames.length} failed): run \`npm run db:migrate\``);
    }
  } finally {
    await close();
  }
}
