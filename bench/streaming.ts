// Streaming benchmark: N concurrent chat streams over graphql-ws through a real server process.
//
//   node --import tsx bench/streaming.ts [--streams 10,100,1000] [--tokens 100] [--rate 50] [--db pglite:memory]
//
// A fake OpenAI-compatible vendor in this process writes each stream's tokens at `rate` per second and
// notes when each was written; the clients (also here, so one clock) note when each arrives. The server,
// a separate process, sits between them: latency here = what the server adds (plus two loopback hops).
// Also counted: tokens lost or out of order, tokens per second, the server's CPU time and memory per stream.
import { parseArgs } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeOpenAI } from '../test/fake-openai.ts';
import { startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, cpuMs, deferred, gqlAt, inBatches, percentile, round, rssKb, TokenChecker, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '10,100,1000' },
    tokens: { type: 'string', default: '100' },
    rate: { type: 'string', default: '50' },
    db: { type: 'string', default: 'pglite:memory' },
    out: { type: 'string', default: 'bench/results/streaming.json' },
  },
});
const STREAM_COUNTS = values.streams.split(',').map(Number);
const TOKENS = Number(values.tokens);
const RATE = Number(values.rate);

const vendor = await startFakeOpenAI();
const sentAt = new Map<string, number>(); // "<stream>:<token>" → when the vendor wrote it
// Tokens flow once every stream of a round has reached the vendor: latency is measured with all N streaming.
let currentRound = { expected: 0, arrived: 0, allArrived: deferred(), firstRequestAt: 0, lastRequestAt: 0 };
vendor.script('stream', (body) => {
  const stream = /stream-(\d+)/.exec(JSON.stringify(body.messages))![1];
  currentRound.lastRequestAt = performance.now();
  currentRound.firstRequestAt ||= currentRound.lastRequestAt;
  if (++currentRound.arrived === currentRound.expected) currentRound.allArrived.resolve();
  const tokens = Array.from({ length: TOKENS }, (_, k) => `${stream}:${k} `);
  return { tokens, delayMs: 1000 / RATE, startAfter: currentRound.allArrived.promise, onToken: (k) => sentAt.set(`${stream}:${k}`, performance.now()) };
});

const server = await startInstance('server', {
  DATABASE_URL: values.db,
  AUTH_JWT_SECRET: JWT_SECRET,
  OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
  OPENAI_COMPATIBLE_NAME: 'bench',
  OPENAI_COMPATIBLE_MODELS: 'stream',
  PROVIDER_TIMEOUT_MS: '120000',
  DATABASE_POOL_SIZE: '20',
  NODE_ENV: 'production',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '0', // one bench viewer drives every stream
  RATE_LIMIT_GENERATIONS_PER_MINUTE: '0',
});
const token = await benchToken();
const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(server.url, token, query, variables);
const results = [];
for (const n of STREAM_COUNTS) results.push(await run(n));
server.process.kill('SIGTERM');
await vendor.close();

writeResult(values.out, { date: new Date().toISOString(), node: process.version, db: values.db.split(':')[0], tokensPerStream: TOKENS, ratePerStream: RATE, results });
console.log('\n| streams | tokens delivered | lost | out of order | p50 added latency | p99 | max | tokens/s | start of all streams | server CPU per stream | server memory per stream |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  console.log(`| ${r.streams} | ${r.delivered}/${r.expected} | ${r.lost} | ${r.outOfOrder} | ${r.latencyMs.p50} ms | ${r.latencyMs.p99} ms | ${r.latencyMs.max} ms | ${r.tokensPerSecond} | ${r.rampMs} ms | ${r.cpuMsPerStream} ms | ${r.memoryKbPerStream} KiB |`);
}
process.exit(0);

async function run(n: number) {
  const conversations = await inBatches(n, 50, () =>
    gql(`mutation { createConversation(input: { model: "bench:stream" }) { conversation { id } } }`).then((d) => d.createConversation.conversation.id as string),
  );
  const clients: Client[] = await inBatches(n, 50, async () => {
    const client = createClient({ url: server.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve) => client.on('connected', () => resolve()));
    return client;
  });

  sentAt.clear();
  currentRound = { expected: n, arrived: 0, allArrived: deferred(), firstRequestAt: 0, lastRequestAt: 0 };
  const tokens = new TokenChecker(sentAt);
  let failed = 0;
  const cpuBefore = cpuMs(server.process.pid!);
  const rssBefore = rssKb(server.process.pid!);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKb(server.process.pid!))), 100);
  const started = performance.now();

  const streaming = Promise.all(
    clients.map(
      (client, i) =>
        new Promise<void>((resolve) => {
          client.subscribe<any>(
            {
              query: `subscription($input: SendMessageInput!) { chat(input: $input) { __typename sequenceNumber ... on MessageDelta { delta } ... on MessageFailed { error } } }`,
              variables: { input: { conversationId: conversations[i], content: `stream-${i}` } },
            },
            {
              next: ({ data }) => {
                const event = data?.chat;
                if (event?.__typename === 'MessageFailed') failed++;
                if (event?.__typename !== 'MessageDelta') return;
                tokens.receive(i, event.delta);
              },
              error: (error) => {
                failed++;
                if (failed <= 3) console.error('stream failed:', JSON.stringify(error).slice(0, 300));
                // A stream that failed before reaching the vendor still counts for the start barrier.
                if (++currentRound.arrived === currentRound.expected) currentRound.allArrived.resolve();
                resolve();
              },
              complete: () => resolve(),
            },
          );
        }),
    ),
  );
  await currentRound.allArrived.promise;
  const rampMs = performance.now() - started; // every chat subscription started and its provider request sent
  const tokensStarted = performance.now();
  const benchCpuBefore = process.cpuUsage();
  await streaming;
  const seconds = (performance.now() - tokensStarted) / 1000;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  clearInterval(sampler);
  const cpu = cpuMs(server.process.pid!) - cpuBefore;
  await Promise.all(clients.map((c) => c.dispose()));

  const { delivered, outOfOrder, latencies } = tokens;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => percentile(latencies, p);
  const expected = n * TOKENS;
  const result = {
    streams: n,
    expected,
    delivered,
    lost: expected - delivered,
    outOfOrder,
    failed,
    rampMs: round(rampMs),
    seconds: round(seconds),
    tokensPerSecond: Math.round(delivered / seconds),
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: round(latencies.at(-1) ?? NaN) },
    cpuMsPerStream: round(cpu / n),
    // CPU was counted from before the streams started: over the start and the streaming together.
    serverCpuPercent: Math.round(cpu / 10 / (seconds + rampMs / 1000)),
    benchProcessCpuPercent: Math.round((benchCpu.user + benchCpu.system) / 10_000 / seconds),
    memoryKbPerStream: Math.round(Math.max(0, rssPeak - rssBefore) / n),
    serverRssMb: { before: Math.round(rssBefore / 1024), peak: Math.round(rssPeak / 1024) },
  };
  console.log(JSON.stringify(result));
  return result;
}
