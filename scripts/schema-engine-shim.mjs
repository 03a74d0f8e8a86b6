#!/usr/bin/env node
// Stand-in for Prisma's native `schema-engine` binary, which the CLI cannot download on an offline machine.
// It speaks the binary's JSON-RPC over stdio and forwards to the wasm schema engine with driver adapters, so
// `prisma migrate dev|deploy|status|diff|reset` work. prisma.config.ts selects it unless
// PRISMA_SCHEMA_ENGINE_BINARY already names a real binary. Urls: postgresql://..., pglite:<dir>, pglite:memory.
import readline from 'node:readline';
import fs from 'node:fs';
import pg from 'pg';
import { loadSchemaEngineWasm } from '../src/migrate/engine.mjs';
import { MIGRATION_CONNECT_TIMEOUT_MS, migrationAdapterFor, migrationConnection } from '../src/migrate/adapters.mjs';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

const args = process.argv.slice(2);

if (args.includes('--version')) {
  console.log(`schema-engine-cli ${(await loadSchemaEngineWasm()).version()}`);
  process.exit(0);
}

const datamodelPaths = [];
let datasource = {};
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--datamodels') datamodelPaths.push(args[++i]);
  else if (args[i] === '--datasource') datasource = JSON.parse(args[++i]);
}
const url = datasource.url;
const isPostgresUrl = (u) => /^postgres(ql)?:\/\//.test(u ?? '');

function logError(message, code) {
  process.stderr.write(
    JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', fields: { message, error_code: code }, target: 'schema_engine::logger' }) + '\n',
  );
}

// `schema-engine --datasource {...} cli <command>`: the CLI checks that the database exists before migrate dev.
const cliIndex = args.indexOf('cli');
if (cliIndex >= 0) {
  const command = args[cliIndex + 1];
  try {
    if (isPostgresUrl(url)) await runDatabaseCommand(command, url);
    process.exit(0); // PGlite creates its directory on open
  } catch (error) {
    logError(error.message, error.code ?? 'P1000');
    process.exit(1);
  }
}

async function runDatabaseCommand(command, databaseUrl) {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1)) || 'postgres';
  if (command === 'can-connect-to-database') {
    const client = new pg.Client(migrationConnection(databaseUrl, MIGRATION_CONNECT_TIMEOUT_MS));
    try {
      await client.connect();
    } catch (error) {
      if (error.code === '3D000') throw Object.assign(new Error(`Database \`${name}\` does not exist`), { code: 'P1003' });
      throw Object.assign(new Error(`Can't reach database server: ${error.message}`), { code: 'P1001' });
    } finally {
      await client.end().catch(() => {});
    }
    return;
  }
  if (command !== 'create-database' && command !== 'drop-database') return;
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client(migrationConnection(admin.toString(), MIGRATION_CONNECT_TIMEOUT_MS));
  await client.connect();
  try {
    await client.query(`${command === 'create-database' ? 'CREATE' : 'DROP'} DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

// ---- JSON-RPC over stdio ----
const schemaFiles = datamodelPaths.map((p) => ({ path: p, content: fs.readFileSync(p, 'utf8') }));
const closers = [];
let enginePromise;

function engine() {
  enginePromise ??= (async () => {
    const { SchemaEngine } = await loadSchemaEngineWasm();
    // Commands with no datasource (`migrate diff --from-empty --to-schema`) get a throw-away in-memory database.
    const { adapterFactory, close } = migrationAdapterFor(url ?? 'pglite:memory', { shadowDatabaseUrl: datasource.shadowDatabaseUrl });
    closers.push(close);
    const onLog = (line) => process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    const datamodels = schemaFiles.length ? schemaFiles.map((f) => [f.path, f.content]) : undefined;
    return SchemaEngine.new({ datamodels }, onLog, bindMigrationAwareSqlAdapterFactory(adapterFactory));
  })();
  return enginePromise;
}

const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');
let nextOutgoingId = 1_000_000;
const awaitingCli = new Map();
const printToCli = (content) =>
  new Promise((resolve) => {
    const id = nextOutgoingId++;
    awaitingCli.set(id, resolve);
    send({ jsonrpc: '2.0', id, method: 'print', params: { content } });
  });

async function handle(method, params = {}) {
  const e = await engine();
  switch (method) {
    case 'getDatabaseVersion':
      return e.version();
    case 'createDatabase':
      return { databaseName: url ? new URL(url.replace(/^pglite:/, 'pglite://x/')).pathname.split('/').pop() : '' };
    case 'diff': {
      const result = await e.diff(params);
      if (result.stdout) await printToCli(result.stdout.replace(/\n$/, ''));
      return { exitCode: result.exitCode };
    }
    case 'evaluateDataLoss':
    case 'createMigration':
      // The wasm engine answers these from the shadow schema devDiagnostic cached; `migrate dev` applies
      // pending migrations in between, which invalidates it: diagnose again and retry.
      try {
        return await e[method](params);
      } catch (error) {
        if (!/shadow DB must be provided through an external factory/.test(error?.message)) throw error;
        await e.devDiagnostic({ migrationsList: params.migrationsList, filters: params.filters });
        return await e[method](params);
      }
    default:
      if (typeof e[method] !== 'function') throw Object.assign(new Error(`schema-engine stand-in: ${method} is not supported`), { code: 'P1000' });
      return (await e[method](params)) ?? null;
  }
}

let queue = Promise.resolve(); // one request at a time, as the native engine does
readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  .on('line', (line) => {
    if (!line.trim()) return;
    const message = JSON.parse(line);
    if (message.method === undefined && awaitingCli.has(message.id)) {
      awaitingCli.get(message.id)(message.result);
      awaitingCli.delete(message.id);
      return;
    }
    queue = queue.then(async () => {
      try {
        send({ jsonrpc: '2.0', id: message.id, result: await handle(message.method, message.params) });
      } catch (error) {
        const text = String(error?.message ?? error);
        send({
          jsonrpc: '2.0',
          id: message.id,
          error: {
            code: 4466,
            message: 'An error happened. Check the data field for details.',
            data: { is_panic: false, message: text, error_code: error?.code ?? text.match(/\bP\d{4}\b/)?.[0], meta: {} },
          },
        });
      }
    });
  })
  .on('close', shutdown);
process.on('SIGTERM', shutdown);

// The CLI closes stdin and then signals the engine: finish what is running and close the database cleanly.
async function shutdown() {
  await queue;
  for (const close of closers) await close().catch(() => {});
  process.exit(0);
}
