// Prisma CLI configuration. The datasource follows DATABASE_URL like the server does:
// `pglite:<dir>` (default `pglite:./data/pglite`), `pglite:memory`, or `postgresql://...`.
import fs from 'node:fs';
import { defineConfig } from 'prisma/config';

// The CLI wants Prisma's native schema engine and downloads it on first use. Where a binary is configured
// (PRISMA_SCHEMA_ENGINE_BINARY) it is used; otherwise a stand-in that runs Prisma's own wasm schema engine
// speaks the binary's protocol, so `prisma generate` and `prisma migrate dev|deploy|status` work offline.
const shim = './scripts/schema-engine-shim.mjs';
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= fs.existsSync(shim) ? shim : '/bin/false';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? 'pglite:./data/pglite',
    shadowDatabaseUrl: process.env.SHADOW_DATABASE_URL,
  },
});
