// The real entry point, as `npm start` runs it (node --import tsx src/main.ts): configuration errors, production without a secret, serving.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';


function run(env: Record<string, string>, { untilOutput }: { untilOutput?: RegExp } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { PATH: process.env.PATH!, PORT: '0', LOG_LEVEL: 'info', ...env } });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (!signalled && untilOutput?.test(stdout)) (signalled = true), child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm start', () => {
  it.each([
    ['a malformed database url', { DATABASE_URL: 'postgresql://' }, /DATABASE_URL/],
    ['an unknown database scheme', { DATABASE_URL: 'mysql://localhost/db' }, /DATABASE_URL/],
    ['a port out of range', { PORT: '70000' }, /PORT/],
    ['an unknown log level', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    ['a provider thread count out of range', { PROVIDER_THREADS: '-1' }, /PROVIDER_THREADS/],
    ['a REDIS_URL that is not a redis:// url', { REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    ['production without AUTH_JWT_SECRET', { NODE_ENV: 'production', DATABASE_URL: 'pglite:memory' }, /AUTH_JWT_SECRET is required/],
    ['a DEFAULT_MODEL that no provider serves', { DEFAULT_MODEL: 'openai:gpt-4o', DATABASE_URL: 'pglite:memory' }, /DEFAULT_MODEL: openai:gpt-4o is not a configured model/],
  ])('stops with one clear line on %s', async (_name, env, message) => {
    const { code, stderr, stdout } = await run(env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
  });

  it('serves on the embedded database, says the dev user is on, and stops cleanly on SIGTERM', async () => {
    const { code, stdout } = await run({ DATABASE_URL: 'pglite:memory' }, { untilOutput: /serving GraphQL/ });
    expect(stdout).toMatch(/act as the local user/);
    expect(stdout).toMatch(/serving GraphQL at http:\/\/localhost:\d+\/graphql/);
    expect(code).toBe(0);
  });
});
