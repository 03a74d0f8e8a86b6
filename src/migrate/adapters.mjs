// Driver adapters for the wasm schema engine (migrations only; the app's PrismaClient uses the stock ones).
// Each patch works around a real incompatibility between the engine and the adapter, noted where it is made.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';

/**
 * adapter-pg as the engine needs it:
 * - the engine's catalog queries return PostgreSQL's internal `"char"` type (oid 18) which adapter-pg cannot
 *   map ("Column type 'char' could not be deserialized"): read it as text (oid 25);
 * - adapter-pg's executeScript splits on ';' (breaking on semicolons inside strings and function bodies) and
 *   is not atomic: send the whole script as one simple-protocol query, which PostgreSQL runs in one implicit
 *   transaction, as the native engine does.
 */
function patchPgQueryable(queryable) {
  const performIO = queryable.performIO.bind(queryable);
  queryable.performIO = async (query) => {
    const result = await performIO(query);
    for (const field of result?.fields ?? []) if (field.dataTypeID === 18) field.dataTypeID = 25;
    return result;
  };
  if ('executeScript' in queryable) {
    queryable.executeScript = async (script) => {
      try {
        await queryable.client.query(script);
      } catch (error) {
        queryable.onError(error);
      }
    };
  }
  if (typeof queryable.startTransaction === 'function') {
    const startTransaction = queryable.startTransaction.bind(queryable);
    queryable.startTransaction = async (...args) => patchPgQueryable(await startTransaction(...args));
  }
  return queryable;
}

/** How long a migration's connection may take to open, unless told otherwise. */
export const MIGRATION_CONNECT_TIMEOUT_MS = 30_000;

/**
 * pg's settings for a migration's connections: opening one is bounded (a host that drops packets would
 * otherwise hold `db:migrate` until it is stopped), and TCP keep-alives find a peer that is gone while a
 * long statement runs. Statements themselves have no time limit: a migration may build an index for hours.
 * @param {string} connectionString @param {number} connectTimeoutMs
 */
export function migrationConnection(connectionString, connectTimeoutMs) {
  return { connectionString, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true, keepAliveInitialDelayMillis: 10_000 };
}

export class PostgresMigrationAdapter extends PrismaPg {
  #url;
  #shadowUrl;
  #connectTimeoutMs;
  #opened = [];

  /** @param {string} url @param {{ shadowDatabaseUrl?: string, connectTimeoutMs?: number }} [options] */
  constructor(url, { shadowDatabaseUrl, connectTimeoutMs = MIGRATION_CONNECT_TIMEOUT_MS } = {}) {
    super(migrationConnection(url, connectTimeoutMs));
    this.#url = url;
    this.#shadowUrl = shadowDatabaseUrl;
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  async connect() {
    const adapter = patchPgQueryable(await super.connect());
    this.#opened.push(adapter);
    return adapter;
  }

  // adapter-pg's own shadow connection spreads the config into a new Pool, where the connection string wins:
  // the "shadow" would be the main database. Use the configured one, or a throw-away database as the CLI does.
  async connectToShadowDb() {
    if (this.#shadowUrl) {
      const adapter = patchPgQueryable(await new PrismaPg(migrationConnection(this.#shadowUrl, this.#connectTimeoutMs)).connect());
      await adapter.executeScript('DROP SCHEMA IF EXISTS "public" CASCADE; CREATE SCHEMA "public";');
      return adapter;
    }
    const name = `prisma_migrate_shadow_db_${randomUUID()}`;
    const admin = new pg.Client(migrationConnection(this.#url, this.#connectTimeoutMs));
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(this.#url);
    url.pathname = `/${name}`;
    const adapter = patchPgQueryable(await new PrismaPg(migrationConnection(url.toString(), this.#connectTimeoutMs)).connect());
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
      await admin.end();
    };
    return adapter;
  }

  /** The engine never disposes its main connection: close the pools when done. */
  async close() {
    await Promise.all(this.#opened.splice(0).map((adapter) => adapter.dispose()));
  }
}

// pglite-prisma-adapter's executeScript does not await the script: a failing migration would be recorded as
// applied and its error become an unhandled rejection.
function awaitPgliteScripts(adapter) {
  adapter.executeScript = async (script) => {
    try {
      await adapter.client.exec(script);
    } catch (error) {
      adapter.onError(error);
    }
  };
  return adapter;
}

/**
 * An embedded database with the extensions the migrations use (pg_trgm: an earlier migration creates it), in `dir` or
 * in memory. Every PGlite of the project is made here, the server's included.
 * @param {string | null | undefined} [dir]
 */
export function newPGlite(dir) {
  return new PGlite({ ...(dir ? { dataDir: dir } : {}), extensions: { pg_trgm }, startParams: [...PGlite.defaultStartParams, ...SMALL_FOOTPRINT] });
}

/**
 * One process, one client: PostgreSQL's defaults (128 MB of shared buffers, among others) are sized for a
 * server of many. These keep an embedded database's memory to what an app of this kind needs, measured
 * in bench/footprint.ts (about 120 MB less at rest).
 */
const SMALL_FOOTPRINT = ['-c', 'shared_buffers=16MB', '-c', 'work_mem=2MB', '-c', 'maintenance_work_mem=16MB', '-c', 'wal_buffers=1MB', '-c', 'temp_buffers=2MB'];

export class PGliteMigrationAdapter extends PrismaPGlite {
  async connect() {
    return awaitPgliteScripts(await super.connect());
  }

  async connectToShadowDb() {
    const shadow = newPGlite(); // in memory, gone on dispose
    const adapter = awaitPgliteScripts(await new PrismaPGlite(shadow).connect());
    adapter.dispose = async () => shadow.close();
    return adapter;
  }
}

/**
 * A migration adapter for a DATABASE_URL-style url; `close` releases what it opened.
 * Accepts an open PGlite instance too (the embedded server migrates the instance it then serves from).
 * @param {string | PGlite} target
 * @param {{ shadowDatabaseUrl?: string, connectTimeoutMs?: number }} [options]
 */
export function migrationAdapterFor(target, options = {}) {
  if (target instanceof PGlite) return { adapterFactory: new PGliteMigrationAdapter(target), close: async () => {} };
  if (/^postgres(ql)?:\/\//.test(target)) {
    const adapterFactory = new PostgresMigrationAdapter(target, options);
    return { adapterFactory, close: () => adapterFactory.close() };
  }
  if (target.startsWith('pglite:')) {
    const dir = pgliteDataDir(target);
    if (dir) fs.mkdirSync(dir, { recursive: true });
    const db = newPGlite(dir);
    return { adapterFactory: new PGliteMigrationAdapter(db), close: () => db.close() };
  }
  throw new Error(`Unsupported database url scheme "${target.split(':')[0]}:" (use pglite:<dir>, pglite:memory or postgresql://...)`);
}

/** `pglite:memory` (or `pglite:memory://`) → null (in memory); `pglite:<dir>` → dir. */
export function pgliteDataDir(url) {
  const rest = url.slice('pglite:'.length);
  return rest === '' || rest.startsWith('memory') ? null : rest;
}
