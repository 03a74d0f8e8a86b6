// Reading a branch: does the branch a conversation shows cost more to read once the conversation has
// branched? One server process (as `npm start` runs it), three conversations whose shown branch is equally
// long (1,050 messages):
//   linear       1,050 messages in a row: the floor, measured in the same run;
//   20 branches  2,000 messages in 20 branches of 100, each forking off the one before 50 messages in: the
//                branch shown crosses 20 lanes;
//   every level  a sibling beside every message of the branch shown (2,100 messages, 1,050 lanes): the
//                worst shape a client can build.
// Each round reads every conversation, in turn, two ways: whole, by pages of 100 (forward, with
// cursors), and its last 50 messages with their sibling fields (what a chat opens on). Reported: p50 and
// p90 per read over the rounds, and the ratio of each p50 to the linear one's.
//
//   node --import tsx bench/branches.ts [--rounds 30] [--db pglite:memory] [--out bench/results/branches.json]
import { parseArgs } from 'node:util';
import { startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { applyMigrations } from '../src/db.ts';
import { createLogger } from '../src/logger.ts';
import { benchToken, gqlAt, latencySummary, round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    db: { type: 'string', default: 'pglite:memory' },
    out: { type: 'string', default: 'bench/results/branches.json' },
  },
});
const ROUNDS = Number(values.rounds);
const LENGTH = 1050;

if (values.db.startsWith('postgres')) await applyMigrations(values.db, createLogger({ logLevel: 'warn' }));
const server = await startInstance('branches', {
  DATABASE_URL: values.db,
  AUTH_JWT_SECRET: JWT_SECRET,
  NODE_ENV: 'production',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0', RATE_LIMIT_STREAMED_MB_PER_HOUR: '0',
});
const token = await benchToken('branches');
const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(server.url, token, query, variables);

const APPEND = `mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`;
async function newConversation(): Promise<string> {
  return (await gql('mutation { createConversation(input: {}) { conversation { id } } }')).createConversation.conversation.id;
}
/** A message under `parent` (or under the current message): its id. Tokens given, so nothing is counted. */
async function append(conversationId: string, i: number, parentMessageId?: string): Promise<string> {
  const input = { conversationId, role: i % 2 ? 'ASSISTANT' : 'USER', content: `message ${i} `.repeat(8), tokens: 8, parentMessageId };
  return (await gql(APPEND, { input })).appendMessage.message.id;
}

async function linear(): Promise<string> {
  const id = await newConversation();
  for (let i = 0; i < LENGTH; i++) await append(id, i);
  return id;
}

async function twentyBranches(): Promise<string> {
  const id = await newConversation();
  let path: string[] = [];
  for (let branch = 0; branch < 20; branch++) {
    path = path.slice(0, 50 * branch);
    for (let i = 0; i < 100; i++) path.push(await append(id, path.length, i === 0 ? path.at(-1) : undefined));
  }
  return id;
}

async function everyLevel(): Promise<string> {
  const id = await newConversation();
  let parent: string | undefined;
  for (let i = 0; i < LENGTH; i++) {
    if (parent) await append(id, i, parent); // the first child: the sibling left behind
    parent = await append(id, i, parent); // the newer one starts a lane, and is the branch shown
  }
  return id;
}

async function built(name: string, build: () => Promise<string>): Promise<string> {
  const start = performance.now();
  const id = await build();
  console.error(`built ${name} in ${round((performance.now() - start) / 1000)} s`);
  return id;
}

const started = performance.now();
const conversations = {
  linear: await built('linear', linear),
  '20 branches': await built('20 branches', twentyBranches),
  'every level': await built('every level', everyLevel),
};
const buildSeconds = round((performance.now() - started) / 1000);

const WHOLE = `query($id: ID!, $after: String) { conversation(id: $id) { messages(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { id position } } } } }`;
const OPEN = `query($id: ID!) { conversation(id: $id) { messageCount messages(last: 50) {
  edges { node { id role content position siblingIndex siblingCount previousSibling { id } nextSibling { id } } } } } }`;

async function readWhole(id: string): Promise<number> {
  let after: string | null = null;
  let read = 0;
  for (;;) {
    const { conversation }: any = await gql(WHOLE, { id, after });
    const edges = conversation.messages.edges;
    if (edges.some((e: any, i: number) => e.node.position !== read + i + 1)) throw new Error('a page of the branch is not gapless');
    read += edges.length;
    if (!conversation.messages.pageInfo.hasNextPage) return read;
    after = conversation.messages.pageInfo.endCursor;
  }
}

const timings = Object.fromEntries(Object.keys(conversations).map((name) => [name, { whole: [] as number[], open: [] as number[] }]));
for (let round = -2; round < ROUNDS; round++) {
  // Each round in another order, so no conversation always reads first (or after the same one).
  const names = Object.keys(conversations);
  const order = names.map((_, i) => names[(i + round + names.length) % names.length]);
  for (const name of order) {
    const id = conversations[name as keyof typeof conversations];
    let start = performance.now();
    const read = await readWhole(id);
    const whole = performance.now() - start;
    if (read !== LENGTH) throw new Error(`${name}: read ${read} messages, expected ${LENGTH}`);
    start = performance.now();
    const { conversation } = await gql(OPEN, { id });
    const open = performance.now() - start;
    if (conversation.messageCount !== LENGTH || conversation.messages.edges.length !== 50) throw new Error(`${name}: not the branch expected`);
    if (round < 0) continue; // two rounds of warm-up
    timings[name].whole.push(whole);
    timings[name].open.push(open);
  }
}
server.process.kill('SIGTERM');

const floor = { whole: latencySummary(timings.linear.whole).p50, open: latencySummary(timings.linear.open).p50 };
const results = Object.entries(timings).map(([name, t]) => {
  const whole = latencySummary(t.whole);
  const open = latencySummary(t.open);
  return { conversation: name, wholeMs: whole, openMs: open, wholeRatio: round(whole.p50 / floor.whole), openRatio: round(open.p50 / floor.open) };
});
writeResult(values.out, { date: new Date().toISOString(), node: process.version, db: values.db.split(':')[0], rounds: ROUNDS, branchLength: LENGTH, buildSeconds, results });

console.log(`\n${ROUNDS} rounds, ${values.db.split(':')[0]}, branches of ${LENGTH} messages (built in ${buildSeconds} s)\n`);
console.log('| conversation | whole branch, 11 pages: p50 | p90 | × linear | last 50 with siblings: p50 | p90 | × linear |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  console.log(`| ${r.conversation} | ${r.wholeMs.p50} ms | ${r.wholeMs.p90} ms | ${r.wholeRatio} | ${r.openMs.p50} ms | ${r.openMs.p90} ms | ${r.openRatio} |`);
}
process.exit(0);
