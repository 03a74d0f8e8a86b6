// What one request costs the server when it asks for far more stored text than a response may carry (8 MB):
// a viewer with `--conversations` conversations of `--messages` messages of 100,000 characters asks for all
// their contents in one query (through the executor: src/sql-pages/ gives up on such a page), alone and
// `--concurrency` at once. Reported: time, the server's memory (RSS, and its peak), what the response says,
// and, if the server died of it, its last words.
//
//   node --import tsx bench/stored-text.ts [--conversations 50] [--messages 100] [--concurrency 1,4,16] [--out bench/results/stored-text.json]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createScratchDatabase, startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    conversations: { type: 'string', default: '50' },
    messages: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '1,4,16' },
    out: { type: 'string', default: 'bench/results/stored-text.json' },
  },
});
const CONVERSATIONS = Number(values.conversations);
const MESSAGES = Number(values.messages);

const database = await createScratchDatabase('bench_stored_text');
const server = await startInstance('stored-text', {
  DATABASE_URL: database.url,
  AUTH_JWT_SECRET: JWT_SECRET,
  RATE_LIMIT_REQUESTS_PER_MINUTE: '0',
  RATE_LIMIT_MB_PER_DAY: '0',
  STORAGE_MB_PER_USER: '0',
});
const pid = server.process.pid!;
const token = await benchToken('reader');
const memoryMB = () => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
  return { rssMB: Math.round(kb('VmRSS') / 1024), peakRssMB: Math.round(kb('VmHWM') / 1024) };
};
type Body = { data?: any; errors?: { message: string; path?: unknown[] }[] };
async function post(query: string, variables: Record<string, unknown> = {}): Promise<Body> {
  const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as Body;
}
async function gql(query: string, variables: Record<string, unknown> = {}) {
  const body = await post(query, variables);
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

// One conversation of MESSAGES texts (compressible, as a storage quota counting compressed bytes lets one
// store them), forked into the others: the copies are the server's own work, not the benchmark's.
const text = (i: number) => `message ${i} `.repeat(100_000).slice(0, 100_000);
const { id: first } = (await gql('mutation { createConversation(input: {}) { conversation { id } } }')).createConversation.conversation;
let last = '';
for (let i = 0; i < MESSAGES; i++) {
  last = (await gql('mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }', { c: first, t: text(i) })).appendMessage.message.id;
}
for (let i = 1; i < CONVERSATIONS; i++) await gql('mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { id } } }', { m: last });

const QUERY = `{ conversations(first: ${CONVERSATIONS}) { edges { node { messages(first: ${MESSAGES}) { edges { node { content } } } } } } }`;
const runs = [];
const idle = memoryMB();
let crash: string | undefined;
for (const concurrency of values.concurrency.split(',').map(Number)) {
  const started = performance.now();
  const memoryBefore = memoryMB();
  const bodies = await Promise.all(Array.from({ length: concurrency }, () => post(QUERY).catch((error: Error) => ({ failed: String(error.cause ?? error) }))));
  const ms = Math.round(performance.now() - started);
  const alive = server.process.exitCode === null && server.process.signalCode === null;
  const first = bodies[0] as Body & { failed?: string };
  const error = first.failed ?? first.errors?.[0]?.message;
  runs.push({ concurrency, ms, ...(alive ? memoryMB() : memoryBefore), error, errorPath: first.errors?.[0]?.path?.join('.'), alive });
  console.log(runs.at(-1));
  if (!alive) {
    // Why it ended: V8's fatal error, or else the last lines the server wrote.
    const output = server.output();
    crash = /FATAL ERROR[^\n]*/.exec(output)?.[0] ?? output.trim().split('\n').slice(-3).join('\n').slice(-1000);
    break;
  }
}
server.process.kill('SIGTERM');
await server.exited;
await database.drop();

const report = { date: new Date().toISOString(), node: process.version, db: 'postgres', storedTextMB: (CONVERSATIONS * MESSAGES * 100_000) / 1e6, idle, runs, crash };
writeResult(values.out, report);
process.exit(0);
