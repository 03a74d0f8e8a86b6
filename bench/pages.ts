// Pages against the floor (issue: throughput, target 1): how many pages a second the server serves against
// a plain Node process that fetches the same rows with the `pg` driver and serialises them
// (bench/pages-floor.ts), side by side in one run, on one PostgreSQL.
//   sidebar  20 conversations with their counts, preview and first 5 messages
//   branch   the last 50 messages of a conversation (a linear one of 200)
//   typename `{ __typename }`, no rows (only with --pages typename): what a request costs by itself
// Each round, CONCURRENCY clients ask one process for one page as fast as it answers for SECONDS; the
// processes take turns, ROUNDS times each, and the ratio is of the medians of requests a second.
//
//   node --import tsx bench/pages.ts [--db postgresql://postgres@127.0.0.1:5432/bench] [--rounds 3] [--seconds 5] [--pages sidebar,branch,typename] [--out bench/results/pages.json]
import { parseArgs } from 'node:util';
import { startInstance, type Instance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { applyMigrations } from '../src/db.ts';
import { createLogger } from '../src/logger.ts';
import { benchToken, cpuMs, cpuMsOfAll, gqlAt, round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432/bench' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
    out: { type: 'string', default: 'bench/results/pages.json' },
    pages: { type: 'string', default: 'sidebar,branch' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);

await applyMigrations(values.db, createLogger({ logLevel: 'warn' }));
const env = { DATABASE_URL: values.db, NODE_ENV: 'production', LOG_LEVEL: 'warn' };
const server = await startInstance('pages', { ...env, LOG_LEVEL: 'info', AUTH_JWT_SECRET: JWT_SECRET, RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0' });
const floor = await startInstance('floor', env, 'bench/pages-floor.ts');
const userId = `pages-${Date.now()}`;
const token = await benchToken(userId);
const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(server.url, token, query, variables);
const rawId = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1];

async function conversationWith(messages: number): Promise<string> {
  const id = (await gql(`mutation { createConversation(input: { title: "page" }) { conversation { id } } }`)).createConversation.conversation.id;
  for (let i = 0; i < messages; i++) {
    await gql(`mutation($c: ID!, $t: String!, $r: MessageRole!) { appendMessage(input: { conversationId: $c, role: $r, content: $t, tokens: 20 }) { message { id } } }`, {
      c: id,
      r: i % 2 ? 'ASSISTANT' : 'USER',
      t: `message ${i}: ${'some words of a chat '.repeat(6)}`,
    });
  }
  return id;
}
for (let i = 0; i < 40; i++) await conversationWith(10);
const long = await conversationWith(200);

const SIDEBAR = `query { conversations(first: 20) { edges { node { id title messageCount preview lastMessageAt
  messages(first: 5) { edges { node { id position role content } } } } } } }`;
const BRANCH = `query($id: ID!) { conversation(id: $id) { messages(last: 50) { edges { node { id role content position status createdAt } } } } }`;

type Target = { name: string; pid: number; url: string; body: string; headers: Record<string, string> };
const pages = {
  sidebar: {
    server: { name: 'server', pid: server.process.pid!, url: server.url, body: JSON.stringify({ query: SIDEBAR }), headers: { authorization: `Bearer ${token}` } },
    floor: { name: 'floor', pid: floor.process.pid!, url: floor.url, body: JSON.stringify({ page: 'sidebar', userId }), headers: {} },
  },
  typename: {
    server: { name: 'server', pid: server.process.pid!, url: server.url, body: JSON.stringify({ query: '{ __typename }' }), headers: { authorization: `Bearer ${token}` } },
    floor: { name: 'floor', pid: floor.process.pid!, url: floor.url, body: JSON.stringify({ page: 'typename' }), headers: {} },
  },
  branch: {
    server: { name: 'server', pid: server.process.pid!, url: server.url, body: JSON.stringify({ query: BRANCH, variables: { id: long } }), headers: { authorization: `Bearer ${token}` } },
    floor: { name: 'floor', pid: floor.process.pid!, url: floor.url, body: JSON.stringify({ page: 'branch', conversationId: rawId(long) }), headers: {} },
  },
};

/** Requests a second one process answers for one page, CONCURRENCY at a time, for SECONDS; and its CPU per page. */
async function rate(target: Target): Promise<{ perSecond: number; cpuUsPerPage: number; databaseCpuUsPerPage: number }> {
  const until = performance.now() + SECONDS * 1000;
  let done = 0;
  const cpuBefore = cpuMs(target.pid);
  const databaseBefore = cpuMsOfAll('postgres');
  const client = async () => {
    while (performance.now() < until) {
      const response = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body: target.body });
      const text = await response.text();
      if (!response.ok || text.includes('"errors"')) throw new Error(`${target.name}: ${text.slice(0, 300)}`);
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const perPage = (ms: number) => (ms * 1000) / done;
  return { perSecond: done / ((performance.now() - started) / 1000), cpuUsPerPage: perPage(cpuMs(target.pid) - cpuBefore), databaseCpuUsPerPage: perPage(cpuMsOfAll('postgres') - databaseBefore) };
}

// The pages must hold the same rows: checked once, by their message ids.
const ids = (text: string) => [...text.matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]).map((id) => (id.includes('-') ? id : rawId(id)));
for (const [name, page] of Object.entries(pages).filter(([name]) => name !== 'typename')) {
  const [a, b] = await Promise.all([page.server, page.floor].map((t) => fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body: t.body }).then((r) => r.text())));
  if (JSON.stringify(ids(a).sort()) !== JSON.stringify(ids(b).sort())) throw new Error(`${name}: the server and the floor answer different rows`);
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const results = [];
const measured = Object.entries(pages).filter(([name]) => values.pages.split(',').includes(name));
for (const [name, page] of measured) {
  await rate(page.server); // warm-up, both
  await rate(page.floor);
  const server: Awaited<ReturnType<typeof rate>>[] = [];
  const floorRates: typeof server = [];
  for (let round = 0; round < ROUNDS; round++) {
    server.push(await rate(page.server));
    floorRates.push(await rate(page.floor));
  }
  const [serverRate, floorRate] = [server, floorRates].map((rounds) => median(rounds.map((r) => r.perSecond)));
  results.push({
    page: name,
    serverPerSecond: round(serverRate),
    floorPerSecond: round(floorRate),
    ratio: round(serverRate / floorRate),
    // The process's own CPU (all its threads) per page: what the ratio would be on a machine with a core to spare.
    serverCpuUsPerPage: Math.round(median(server.map((r) => r.cpuUsPerPage))),
    floorCpuUsPerPage: Math.round(median(floorRates.map((r) => r.cpuUsPerPage))),
    // PostgreSQL's CPU (every backend, on the same two cores) per page of each.
    serverDatabaseCpuUsPerPage: Math.round(median(server.map((r) => r.databaseCpuUsPerPage))),
    floorDatabaseCpuUsPerPage: Math.round(median(floorRates.map((r) => r.databaseCpuUsPerPage))),
    server: server.map((r) => round(r.perSecond)),
    floor: floorRates.map((r) => round(r.perSecond)),
  });
  console.error(JSON.stringify(results.at(-1)));
}
for (const instance of [server, floor] as Instance[]) instance.process.kill('SIGINT');
await Promise.all([server.exited, floor.exited]); // (a CPU profile, with BENCH_CPU_PROF, is written at exit)
writeResult(values.out, { date: new Date().toISOString(), node: process.version, rounds: ROUNDS, seconds: SECONDS, concurrency: CONCURRENCY, results });
console.log(`\n| page | server pages/s | floor pages/s | server / floor | CPU per page, server / floor | PostgreSQL's CPU per page, server's / floor's |\n| --- | --- | --- | --- | --- | --- |`);
for (const r of results) {
  console.log(`| ${r.page} | ${r.serverPerSecond} | ${r.floorPerSecond} | ${r.ratio} | ${r.serverCpuUsPerPage} / ${r.floorCpuUsPerPage} µs | ${r.serverDatabaseCpuUsPerPage} / ${r.floorDatabaseCpuUsPerPage} µs |`);
}
process.exit(0);
