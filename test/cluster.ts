// Several real server processes on one PostgreSQL database (created for the run) and the machine's Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { applyMigrations } from '../src/db.ts';
import { createLogger } from '../src/logger.ts';
import { JWT_SECRET, type GraphQLResponse, type TestViewer } from './helpers.ts';

export const ADMIN_DATABASE_URL = process.env.SCALE_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Instance = {
  name: string;
  url: string;
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  gql<T = any>(query: string, variables: Record<string, unknown>, viewer: TestViewer): Promise<T>;
  request(query: string, variables: Record<string, unknown>, viewer: TestViewer): Promise<{ status: number; body: GraphQLResponse }>;
};

export type Cluster = {
  databaseUrl: string;
  start(name: string, env?: Record<string, string>): Promise<Instance>;
  close(): Promise<void>;
};

/** A fresh database on the machine's PostgreSQL, migrated by the project's own code; drop() removes it. */
export async function createScratchDatabase(prefix = 'chat_test'): Promise<{ url: string; drop(): Promise<void> }> {
  const database = `${prefix}_${randomUUID().replace(/-/g, '')}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${database}`;
  await applyMigrations(url.toString(), createLogger({ logLevel: 'warn' }));
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

export async function startCluster(baseEnv: Record<string, string>): Promise<Cluster> {
  const database = await createScratchDatabase('chat_scale');
  const databaseUrl = database.url;
  const instances: Instance[] = [];

  return {
    databaseUrl,
    async start(name, env = {}) {
      const instance = await startInstance(name, { DATABASE_URL: databaseUrl, REDIS_URL, AUTH_JWT_SECRET: JWT_SECRET, ...baseEnv, ...env });
      instances.push(instance);
      return instance;
    },
    async close() {
      for (const instance of instances) instance.process.kill('SIGKILL');
      await Promise.all(instances.map((i) => i.exited));
      await database.drop();
    },
  };
}

/** Server processes started and not yet exited: killed when this process exits, however it ends (a benchmark that throws left them serving). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

/** A server process; `entry` is another script that serves like it (the benchmarks' relay floor). */
export async function startInstance(name: string, env: Record<string, string>, entry = 'src/main.ts'): Promise<Instance> {
  // BENCH_CPU_PROF=<dir> writes a CPU profile of each server process (benchmarks).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...profile, '--import', 'tsx', entry], {
    env: { PATH: process.env.PATH!, PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  running.add(proc);
  let output = '';
  // Keep the start of the output (for errors), not every line a long benchmark logs.
  const keep = (chunk: Buffer) => void (output.length < 100_000 && (output += chunk));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => (running.delete(proc), resolve(code))));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /serving GraphQL at (http:\/\/[^"\s]+)/.exec(output);
      if (match) resolve(match[1]);
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
  });
  const request: Instance['request'] = async (query, variables, viewer) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as GraphQLResponse };
  };
  return {
    name,
    url,
    process: proc,
    output: () => output,
    exited,
    request,
    async gql(query, variables, viewer) {
      const { body } = await request(query, variables, viewer);
      if (body.errors) throw new Error(`${name}: ${JSON.stringify(body.errors)}`);
      return body.data;
    },
  };
}
