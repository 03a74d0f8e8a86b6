// `npm run db:migrate` (deploy) and `npm run db:status` against DATABASE_URL, with no native engine; in a
// production image `node dist/migrate/cli.js deploy`. `npm run db:migrate -- dev --name <name>`... creates a
// migration (same as `npx prisma migrate dev`): `node dist/migrate/cli.js dev --name <name>`.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { openSchemaEngine, migrateDeploy, migrateStatus, migrateDev } from './engine.mjs';
import { migrationAdapterFor } from './adapters.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: 'string', default: '' }, 'create-only': { type: 'boolean', default: false } },
});
const command = positionals[0] ?? 'deploy';
const { databaseUrl, databaseStatementTimeoutMs } = loadConfig();
// Opening a connection is bounded as the server bounds it; a migration's statements are not.
const { adapterFactory, close } = migrationAdapterFor(databaseUrl, { connectTimeoutMs: databaseStatementTimeoutMs });
try {
  const engine = await openSchemaEngine({ adapterFactory });
  if (command === 'deploy') {
    const applied = await migrateDeploy(engine);
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'No pending migrations.');
  } else if (command === 'status') {
    console.log(JSON.stringify(await migrateStatus(engine), null, 2));
  } else if (command === 'dev') {
    const { created, applied } = await migrateDev(engine, { name: values.name, createOnly: values['create-only'] });
    console.log(created ? `Created prisma/migrations/${created}` : 'Schema already in sync: no migration created.');
    if (applied.length) console.log(`Applied: ${applied.join(', ')}`);
  } else {
    throw new Error(`Unknown command "${command}": use deploy, status or dev`);
  }
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  await close();
}
