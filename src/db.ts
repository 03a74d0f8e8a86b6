// The one PrismaClient and its driver adapter: PGlite (embedded, in-process) or a PostgreSQL server.
import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';
import { openSchemaEngine, migrateDeploy, migrateStatus } from './migrate/engine.mjs';
import { migrationAdapterFor, pgliteDataDir } from './migrate/adapters.mjs';
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
};

export async function openDatabase(url: string, { log, migrate = false, poolSize = 10 }: OpenDatabaseOptions): Promise<Database> {
  if (url.startsWith('pglite:')) {
    const dir = pgliteDataDir(url);
    if (dir) fs.mkdirSync(dir, { recursive: true });
    const pglite = await PGlite.create(dir ?? undefined);
    await applyMigrations(pglite, log);
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    return { prisma, kind: 'pglite', close: async () => (await prisma.$disconnect(), await pglite.close()) };
  }
  if (migrate) await applyMigrations(url, log);
  else await assertMigrated(url);
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }) });
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
