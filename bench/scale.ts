// Scale benchmark: one instance against two (PostgreSQL + Redis, same machine), on a streaming workload
// and a query workload, and the ratio two/one.
//
//   node --import tsx bench/scale.ts [--streams 200] [--tokens 100] [--rate 50] [--clients 40] [--seconds 10]
//
// Streaming: `streams` chat subscriptions spread over the instances (as a load balancer would), tokens
// written by a fake OpenAI-compatible vendor at `rate` per second. Queries: `clients` concurrent clients
// asking for a sidebar (20 conversations, each with its first 5 messages) for `seconds`.
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeOpenAI } from '../test/fake-openai.ts';
import { startCluster, type Instance } from '../test/cluster.ts';
import { benchToken, cpuMs, deferred, gqlAt, inBatches, percentile, round, TokenChecker, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '200' },
    tokens: { type: 'string', default: '100' },
    rate: { type: 'string', default: '50' },
    clients: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '10' },
    out: { type: 'string', default: 'bench/results/scale.json' },
  },
});
const STREAMS = Number(values.streams);
const TOKENS = Number(values.tokens);
const RATE = Number(values.rate);
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);

const vendor = await startFakeOpenAI();
const sentAt = new Map<string, number>();
let barrier = { expected: 0, arrived: 0, all: deferred() };
vendor.script('stream', (body) => {
  const stream = /stream-(\d+)/.exec(JSON.stringify(body.messages))![1];
  if (++barrier.arrived === barrier.expected) barrier.all.resolve();
  const tokens = Array.from({ length: TOKENS }, (_, k) => `${stream}:${k} `);
  return { tokens, delayMs: 1000 / RATE, startAfter: barrier.all.promise, onToken: (k) => sentAt.set(`${stream}:${k}`, performance.now()) };
});
const env = { NODE_ENV: 'production', RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0', RATE_LIMIT_STREAMED_MB_PER_HOUR: '0', MAX_STREAMING_REPLIES_PER_USER: '1000000', RATE_LIMIT_GENERATIONS_PER_MINUTE: '0', WS_MAX_SOCKETS_PER_USER: '1000000', SUBSCRIPTION_COST_PER_USER: '100000000', OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL, OPENAI_COMPATIBLE_NAME: 'bench', OPENAI_COMPATIBLE_MODELS: 'stream', PROVIDER_TIMEOUT_MS: '120000', LOG_LEVEL: 'warn' };
const token = await benchToken();
const gql = (instance: Instance, query: string, variables: Record<string, unknown> = {}) => gqlAt(instance.url, token, query, variables);

const results: Record<string, unknown>[] = [];
for (const count of [1, 2]) {
  const cluster = await startCluster({ ...env, LOG_LEVEL: 'info' });
  const instances = await Promise.all(Array.from({ length: count }, (_, i) => cluster.start(`i${i}`)));
  await seedSidebar(instances[0]);
  const queries = await queryWorkload(instances);
  const streaming = await streamingWorkload(instances);
  results.push({ instances: count, queries, streaming });
  console.log(JSON.stringify(results.at(-1)));
  await cluster.close();
}
await vendor.close();

const [one, two] = results as any[];
const ratio = {
  queriesPerSecond: round(two.queries.requestsPerSecond / one.queries.requestsPerSecond),
  queryP99: round(two.queries.latencyMs.p99 / one.queries.latencyMs.p99),
  streamingTokensPerSecond: round(two.streaming.tokensPerSecond / one.streaming.tokensPerSecond),
  streamingP99: round(two.streaming.latencyMs.p99 / one.streaming.latencyMs.p99),
};
writeResult(values.out, { date: new Date().toISOString(), node: process.version, streams: STREAMS, tokens: TOKENS, rate: RATE, clients: CLIENTS, seconds: SECONDS, results, ratio });
console.log(JSON.stringify({ ratio }));
process.exit(0);

/** 40 conversations of 10 messages for the sidebar query. */
async function seedSidebar(instance: Instance) {
  await inBatches(40, 10, async (i) => {
    const { id } = (await gql(instance, `mutation($t: String!) { createConversation(input: { title: $t }) { conversation { id } } }`, { t: `c${i}` })).createConversation.conversation;
    for (let m = 0; m < 10; m++) {
      await gql(instance, `mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }`, { c: id, t: `message ${m}` });
    }
  });
}

async function queryWorkload(instances: Instance[]) {
  const query = `{ conversations(first: 20) { totalCount edges { node { id title preview messageCount messages(first: 5) { edges { node { id content } } } } } } }`;
  const latencies: number[] = [];
  const cpuBefore = instances.map((i) => cpuMs(i.process.pid!));
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let n = client; performance.now() < end; n++) {
        const started = performance.now();
        await gql(instances[n % instances.length], query);
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    requestsPerSecond: Math.round(latencies.length / SECONDS),
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    serverCpuMs: instances.map((i, k) => round(cpuMs(i.process.pid!) - cpuBefore[k])),
  };
}

async function streamingWorkload(instances: Instance[]) {
  const conversations = await inBatches(STREAMS, 50, async () => (await gql(instances[0], `mutation { createConversation(input: { model: "bench:stream" }) { conversation { id } } }`)).createConversation.conversation.id as string);
  sentAt.clear();
  barrier = { expected: STREAMS, arrived: 0, all: deferred() };
  const tokens = new TokenChecker(sentAt);
  const clients = conversations.map((_, i) =>
    createClient({ url: instances[i % instances.length].url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } }),
  );
  const done = Promise.all(
    clients.map(
      (client, i) =>
        new Promise<void>((resolve) => {
          client.subscribe<any>(
            { query: `subscription($input: SendMessageInput!) { chat(input: $input) { __typename ... on MessageDelta { delta } } }`, variables: { input: { conversationId: conversations[i], content: `stream-${i}` } } },
            {
              next: ({ data }) => {
                if (data?.chat?.__typename !== 'MessageDelta') return;
                tokens.receive(i, data.chat.delta);
              },
              error: () => (++barrier.arrived === barrier.expected && barrier.all.resolve(), resolve()),
              complete: resolve,
            },
          );
        }),
    ),
  );
  await barrier.all.promise;
  const started = performance.now();
  await done;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.dispose()));
  const { delivered, outOfOrder, latencies } = tokens;
  latencies.sort((a, b) => a - b);
  return {
    streams: STREAMS,
    delivered,
    lost: STREAMS * TOKENS - delivered,
    outOfOrder,
    tokensPerSecond: Math.round(delivered / seconds),
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
  };
}
