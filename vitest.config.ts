import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Each file starts its own app (an in-memory PGlite unless TEST_DATABASE_URL names a server).
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
