// Prisma Migrate without the native schema engine: Prisma's own wasm schema engine (shipped inside the
// `prisma` package, the exact build the CLI expects) driven through driver adapters. Plain JavaScript so
// that the CLI stand-in (scripts/schema-engine-shim.mjs) can run it with bare `node`.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

const require = createRequire(import.meta.url);
const NO_FILTERS = { externalTables: [], externalEnums: [] };

// From this module (src/migrate or dist/migrate), whatever the working directory.
export const SCHEMA_PATH = fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url));
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

// Without a registry, a Rust panic inside the wasm surfaces as an unrelated "reading 'set_message'" TypeError.
globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
  message: undefined,
  set_message(message) {
    this.message = message;
  },
};

let loadedEngine; // the wasm-bindgen glue holds one global instance: instantiate once per process

/** The .wasm inside the installed `prisma` package matches the CLI's engine hash exactly. */
function wasmFilePath() {
  if (process.env.SCHEMA_ENGINE_WASM) return process.env.SCHEMA_ENGINE_WASM;
  try {
    const shipped = path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'schema_engine_bg.wasm');
    if (fs.existsSync(shipped)) return shipped;
  } catch {
    // no Prisma CLI (a production install): the engine package's own build, which its glue matches
  }
  return path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')), 'schema_engine_bg.wasm');
}

/** @returns {Promise<{ SchemaEngine: any, version: () => string }>} */
export async function loadSchemaEngineWasm() {
  if (loadedEngine) return loadedEngine;
  // The package exports the JS glue but not the .wasm, which is instantiated by hand (the glue targets bundlers).
  const glue = await import(pathToFileURL(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')).href);
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasmFilePath()), { './schema_engine_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
  loadedEngine = glue;
  return glue;
}

/** @param {string} [schemaPath] */
export async function readSchemaFiles(schemaPath = SCHEMA_PATH) {
  return [{ path: schemaPath, content: await fsp.readFile(schemaPath, 'utf8') }];
}

/** The MigrationList the CLI builds from the migrations folder (sorted folder names, lock file). */
export async function listMigrations(migrationsDir = MIGRATIONS_DIR) {
  const lockfilePath = 'migration_lock.toml';
  const lockContent = await fsp.readFile(path.join(migrationsDir, lockfilePath), 'utf8').catch(() => null);
  const entries = await fsp.readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const migrationDirectories = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const content = await fsp
      .readFile(path.join(migrationsDir, entry.name, 'migration.sql'), 'utf8')
      .then((value) => ({ tag: 'ok', value }))
      .catch((error) => ({ tag: 'error', value: error.message }));
    migrationDirectories.push({ path: entry.name, migrationFile: { path: 'migration.sql', content } });
  }
  return {
    baseDir: migrationsDir,
    lockfile: { path: lockfilePath, content: lockContent },
    migrationDirectories,
    shadowDbInitScript: '',
  };
}

/**
 * @param {{ adapterFactory: object, schemaFiles?: {path: string, content: string}[], log?: (line: string) => void }} options
 *   adapterFactory: a migration-aware driver adapter factory (connect + connectToShadowDb), not yet bound.
 */
export async function openSchemaEngine({ adapterFactory, schemaFiles, log = () => {} }) {
  const { SchemaEngine } = await loadSchemaEngineWasm();
  const files = schemaFiles ?? (await readSchemaFiles());
  const bound = bindMigrationAwareSqlAdapterFactory(adapterFactory);
  const explain = (error) => explainedError(error, bound.errorRegistry);
  const engine = await SchemaEngine.new({ datamodels: files.map((f) => [f.path, f.content]) }, log, bound).catch((error) => {
    throw explain(error);
  });
  return new Proxy(engine, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args) => {
        const result = value.apply(target, args);
        return result instanceof Promise ? result.catch((error) => Promise.reject(explain(error))) : result;
      };
    },
  });
}

/**
 * The engine reports a driver's failure (a connection that timed out, a refused password) as "External error
 * id#N", its cause kept in the adapter's registry: the error with that cause's words, for whoever runs the
 * migration.
 */
function explainedError(error, errorRegistry) {
  const id = /External error id#(\d+)/.exec(error?.message ?? '')?.[1];
  const cause = id === undefined ? undefined : errorRegistry.consumeError(Number(id))?.error;
  if (!cause) return error;
  return new Error(`${error.message.replace(/External error id#\d+/, '').trim() || 'The database failed'}: ${cause.message ?? String(cause)}`, { cause });
}

/** `prisma migrate deploy`: applies pending migrations; returns the names applied. */
export async function migrateDeploy(engine, migrationsDir = MIGRATIONS_DIR) {
  const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList: await listMigrations(migrationsDir), filters: NO_FILTERS });
  return appliedMigrationNames;
}

/** `prisma migrate status`: what is applied, pending, failed or edited. */
export async function migrateStatus(engine, migrationsDir = MIGRATIONS_DIR) {
  return engine.diagnoseMigrationHistory({ migrationsList: await listMigrations(migrationsDir), optInToShadowDatabase: false, filters: NO_FILTERS });
}

/**
 * `prisma migrate dev --name <name> [--create-only]`, the CLI's steps: diagnose on the shadow database, apply
 * pending migrations, check for data loss, write the new migration folder, apply it.
 * @returns {Promise<{ created: string | null, applied: string[] }>}
 */
export async function migrateDev(engine, { name = '', createOnly = false, migrationsDir = MIGRATIONS_DIR, schemaFiles } = {}) {
  const files = schemaFiles ?? (await readSchemaFiles());
  let migrationsList = await listMigrations(migrationsDir);
  const diagnostic = await engine.devDiagnostic({ migrationsList, filters: NO_FILTERS });
  if (diagnostic.action.tag === 'reset') throw new Error(`The database has drifted from the migrations and needs a reset: ${diagnostic.action.reason}`);
  const applied = [...(await engine.applyMigrations({ migrationsList, filters: NO_FILTERS })).appliedMigrationNames];
  // The wasm engine's evaluateDataLoss/createMigration reuse the shadow schema devDiagnostic cached for the
  // set of applied migrations; applying some invalidates it, so diagnose again.
  if (applied.length) await engine.devDiagnostic({ migrationsList, filters: NO_FILTERS });

  const loss = await engine.evaluateDataLoss({ migrationsList, schema: { files }, filters: NO_FILTERS });
  if (loss.unexecutableSteps.length) throw new Error(loss.unexecutableSteps.map((s) => s.message).join('\n'));
  if (loss.warnings.length) throw new Error(`This migration would lose data:\n${loss.warnings.map((w) => w.message).join('\n')}`);

  const out = await engine.createMigration({ draft: createOnly, migrationName: name, migrationsList, schema: { files }, filters: NO_FILTERS });
  if (out.migrationScript === null) return { created: null, applied };
  const dir = path.join(migrationsDir, out.generatedMigrationName);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, `migration.${out.extension}`), out.migrationScript, 'utf8');
  await fsp.writeFile(
    path.join(migrationsDir, 'migration_lock.toml'),
    `# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "${out.connectorType}"\n`,
    'utf8',
  );
  if (!createOnly) {
    migrationsList = await listMigrations(migrationsDir);
    applied.push(...(await engine.applyMigrations({ migrationsList, filters: NO_FILTERS })).appliedMigrationNames);
  }
  return { created: out.generatedMigrationName, applied };
}
