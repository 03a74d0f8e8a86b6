// Streaming benchmark: N concurrent chat streams over graphql-ws through a real server process.
//
//   node --import tsx bench/streaming.ts [--streams 10,100,1000] [--tokens 300] [--rate 50] [--stagger 2000]
//                                        [--phase spread|sync] [--provider-threads 2] [--db pglite:memory]
//                                        [--server app|relay]
//
// A fake OpenAI-compatible vendor in this process writes each stream's tokens at `rate` per second and
// notes when each was written; the clients (also here, so one clock) note when each arrives. The server,
// a separate process, sits between them: latency here = what the server adds (plus two loopback hops).
//
// Streams are independent, as real ones are: all N chats are started first, then their replies begin one
// after another over `stagger` ms, so all N are streaming at once for (tokens / rate − stagger) seconds:
// the steady state, reported on its own. With `--phase spread` (the default) the streams' ticks are also
// spread over the interval; `--phase sync` with `--stagger 0` makes every stream write in the same
// instant, a worst-case burst of N tokens at once. One unrecorded warm-up round comes first.
// Also counted: tokens lost or out of order, tokens per second, the server's CPU time and memory.
// `--server relay` puts bench/relay.ts, which only relays, in the server's place: the floor that this
// machine and the benchmark itself set under every figure.
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeOpenAI } from '../test/fake-openai.ts';
import { startInstance } from '../test/cluster.ts';
import { applyMigrations } from '../src/db.ts';
import { createLogger } from '../src/logger.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, cpuMs, deferred, gqlAt, inBatches, latencySummary, round, rssKb, TokenChecker, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '10,100,1000' },
    tokens: { type: 'string', default: '300' },
    rate: { type: 'string', default: '50' },
    phase: { type: 'string', default: 'spread' },
    stagger: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '50' },
    settle: { type: 'string', default: '500' },
    'provider-threads': { type: 'string', default: '2' },
    db: { type: 'string', default: 'pglite:memory' },
    server: { type: 'string', default: 'app' },
    out: { type: 'string', default: 'bench/results/streaming.json' },
  },
});
const STREAM_COUNTS = values.streams.split(',').map(Number);
const TOKENS = Number(values.tokens);
const RATE = Number(values.rate);
if (values.phase !== 'spread' && values.phase !== 'sync') throw new Error('--phase is spread or sync');
const SPREAD = values.phase === 'spread';
const INTERVAL_MS = 1000 / RATE;
const STAGGER_MS = Number(values.stagger);
const SETTLE_MS = Number(values.settle);
if (values.server !== 'app' && values.server !== 'relay') throw new Error('--server is app or relay');

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
  const share = Number(stream) / currentRound.expected;
  const startMs = SPREAD ? share * STAGGER_MS : Math.round((share * STAGGER_MS) / INTERVAL_MS) * INTERVAL_MS;
  const phaseMs = startMs + (SPREAD ? share * INTERVAL_MS : 0);
  // Tokens flow a moment after the last stream reached the vendor: what is measured is streaming, not the
  // server still starting the last of N chats.
  const startAfter = currentRound.allArrived.promise.then(() => new Promise((resolve) => setTimeout(resolve, SETTLE_MS)));
  return { tokens, delayMs: INTERVAL_MS, phaseMs, startAfter, onToken: (k) => sentAt.set(`${stream}:${k}`, performance.now()) };
});

// The server refuses an unmigrated PostgreSQL; the embedded database migrates itself.
if (values.server === 'app' && values.db.startsWith('postgres')) await applyMigrations(values.db, createLogger({ logLevel: 'warn' }));
const server = await startInstance('server', {
  DATABASE_URL: values.db,
  AUTH_JWT_SECRET: JWT_SECRET,
  OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
  OPENAI_COMPATIBLE_NAME: 'bench',
  OPENAI_COMPATIBLE_MODELS: 'stream',
  PROVIDER_TIMEOUT_MS: '120000',
  DATABASE_POOL_SIZE: '20',
  PROVIDER_THREADS: values['provider-threads'],
  NODE_ENV: 'production',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0', RATE_LIMIT_STREAMED_MB_PER_HOUR: '0', MAX_STREAMING_REPLIES_PER_USER: '1000000', // one bench viewer drives every stream
  RATE_LIMIT_GENERATIONS_PER_MINUTE: '0',
  WS_MAX_SOCKETS_PER_USER: '1000000',
  SUBSCRIPTION_COST_PER_USER: '100000000', // one bench viewer holds every subscription
}, values.server === 'relay' ? 'bench/relay.ts' : 'src/main.ts');
const token = await benchToken();
const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(server.url, token, query, variables);
// A server that has run for a while is warm (JIT, pools, tokenizer): one unrecorded round first.
if (Number(values.warmup) > 0) await run(Number(values.warmup));
const results = [];
for (const n of STREAM_COUNTS) results.push(await run(n));
server.process.kill('SIGTERM');
await server.exited; // so that a profiled server (BENCH_CPU_PROF) writes its profile
await vendor.close();

writeResult(values.out, { date: new Date().toISOString(), node: process.version, server: values.server, db: values.server === 'relay' ? null : values.db.split(':')[0], tokensPerStream: TOKENS, ratePerStream: RATE, staggerMs: STAGGER_MS, phase: values.phase, results });
console.log('\n| streams | tokens delivered | lost | out of order | p50 | p99 | max | steady p50 | steady p99 | steady max | steady tokens/s | server CPU while streaming | server CPU per token | server CPU per stream | server memory per stream |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  const { steady: s } = r;
  console.log(`| ${r.streams} | ${r.delivered}/${r.expected} | ${r.lost} | ${r.outOfOrder} | ${r.latencyMs.p50} ms | ${r.latencyMs.p99} ms | ${r.latencyMs.max} ms | ${s.latencyMs.p50} ms | ${s.latencyMs.p99} ms | ${s.latencyMs.max} ms | ${s.tokensPerSecond} | ${r.serverCpuPercentStreaming}% | ${r.cpuUsPerToken} µs | ${r.cpuMsPerStream} ms | ${r.memoryKbPerStream} KiB |`);
}
process.exit(0);

function steadyState({ timed }: TokenChecker) {
  const firsts = timed.filter((t) => t.k === 0).map((t) => t.sentAt);
  const lasts = timed.filter((t) => t.k === TOKENS - 1).map((t) => t.sentAt);
  const from = Math.max(...firsts);
  const to = Math.min(...lasts);
  const inWindow = timed.filter((t) => t.sentAt >= from && t.sentAt <= to);
  const seconds = (to - from) / 1000;
  return { seconds: round(seconds), tokens: inWindow.length, tokensPerSecond: Math.round(inWindow.length / seconds), latencyMs: latencySummary(inWindow.map((t) => t.ms)) };
}

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
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const tokensStarted = performance.now();
  const cpuAtTokens = cpuMs(server.process.pid!);
  const benchCpuBefore = process.cpuUsage();
  // The clients note a token when this process gets to it: its own delays are part of every latency.
  const benchDelay = monitorEventLoopDelay({ resolution: 1 });
  benchDelay.enable();
  await streaming;
  benchDelay.disable();
  const seconds = (performance.now() - tokensStarted) / 1000;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  clearInterval(sampler);
  const cpuEnd = cpuMs(server.process.pid!);
  const cpu = cpuEnd - cpuBefore;
  await Promise.all(clients.map((c) => c.dispose()));

  const { delivered, outOfOrder, latencies } = tokens;
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
    latencyMs: latencySummary(latencies),
    // Tokens written while all N streams were streaming (from the last stream's first token to the first
    // stream's last one): the latency at N concurrent streams, without the ramps up and down.
    steady: steadyState(tokens),
    // Everything a stream cost the server: its start, its tokens and its end.
    cpuMsPerStream: round(cpu / n),
    // While tokens flowed (100% = one core; the server has a main thread and provider threads).
    serverCpuPercentStreaming: Math.round((cpuEnd - cpuAtTokens) / 10 / seconds),
    cpuUsPerToken: Math.round(((cpuEnd - cpuAtTokens) * 1000) / Math.max(1, delivered)),
    benchProcessCpuPercent: Math.round((benchCpu.user + benchCpu.system) / 10_000 / seconds),
    // How late this process's own event loop ran (a 1 ms timer), p99 and max.
    benchEventLoopDelayMs: { p99: round(benchDelay.percentile(99) / 1e6 - 1), max: round(benchDelay.max / 1e6 - 1) },
    memoryKbPerStream: Math.round(Math.max(0, rssPeak - rssBefore) / n),
    serverRssMb: { before: Math.round(rssBefore / 1024), peak: Math.round(rssPeak / 1024) },
  };
  console.log(JSON.stringify(result));
  return result;
}
