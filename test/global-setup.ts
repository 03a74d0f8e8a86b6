// With TEST_DATABASE_URL (a PostgreSQL server), start the run from an empty schema migrated by the
// project's own migration code. Without it every test file uses its own in-memory PGlite.
import pg from 'pg';
import { applyMigrations } from '../src/db.ts';
import { createLogger } from '../src/logger.ts';

export default async function setup() {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
  await client.end();
  await applyMigrations(url, createLogger({ logLevel: 'warn' }));
}
