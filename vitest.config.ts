import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);
const browserSuite = process.env.TEST_SUITE === 'browser';
/**
 * Files whose servers run on an embedded database of their own whatever TEST_DATABASE_URL says, or on no
 * database: a run on PostgreSQL would repeat them unchanged. The scale tests run their own server processes
 * on PostgreSQL and Redis: once per run is enough.
 */
const NOT_AGAIN_ON_POSTGRES = [
  'test/scale.test.ts',
  'test/runtime.test.ts',
  'test/startup.test.ts',
  'test/recovery.test.ts',
  'test/provider-thread.test.ts',
  'test/bounded-fetch.test.ts',
  'test/docs.test.ts',
  'test/schema.test.ts',
  'test/watched-stream.test.ts',
  'test/web-app-serving.test.ts',
  'test/keyed-queue.test.ts',
  'test/redis-entries.test.ts',
  'test/memory-event-log.test.ts',
  'test/paced-counter.test.ts',
  'test/text-cut.test.ts',
  'test/root-fields.test.ts',
];

export default defineConfig({
  // graphql 16 ships CommonJS (main) and ESM (module) copies; Node gives dependencies the CommonJS one, so
  // the tests' own imports must get it too, or schema objects come from two "realms".
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    // test/browser drives a real Chromium: `npm run test:browser` (TEST_SUITE=browser; CI installs it).
    include: browserSuite ? ['test/browser/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: browserSuite ? [] : ['test/browser/**', ...(process.env.TEST_DATABASE_URL ? NOT_AGAIN_ON_POSTGRES : [])],
    globalSetup: ['test/global-setup.ts'],
    // Each file starts its own app (an in-memory PGlite unless TEST_DATABASE_URL names a server).
    pool: 'forks',
    // On the embedded database no two files share anything: two at once even on two cores, where one file
    // often waits (on timers, child processes, PostgreSQL and Redis in the scale tests). CI's run went from
    // 12.5–14 minutes to 8.5, passing twice in a row. On PostgreSQL, vitest's default (a core less than there are).
    ...(process.env.TEST_DATABASE_URL || browserSuite ? {} : { maxWorkers: Math.max(2, availableParallelism() - 1) }),
    testTimeout: 30_000,
    // A browser waits for what it is shown: expect.poll gives a page (on a busy machine) time to get there.
    expect: { poll: { timeout: browserSuite ? 10_000 : 1_000 } },
    hookTimeout: 60_000,
  },
});
