// Fan-out: one event, many subscribers of one viewer. One server process; each size N in a fresh
// conversation, the subscribers spread over sockets of 50.
//   messageStream       N subscribers of one reply (100 tokens, one every 20 ms: 2 s), each selecting the
//                       message on its first and last events. Reported: the reply's own duration (its first
//                       token written to its last, at the vendor), how long after its first token the last
//                       subscriber got the terminal event, and their ratio (target ≤ 1.5 at 400).
//   conversationsChanged N sidebars, each selecting the conversation and its last 50 messages; 20 messages
//                       appended one after the other. Reported: from the first append until every subscriber
//                       had all 20 events.
// For both, the server's CPU, and the cost of an extra subscriber: the slope of server CPU against N
// between the two largest sizes, per event.
//
//   node --import tsx bench/fanout.ts [--sizes 1,100,400] [--db pglite:memory] [--out bench/results/fanout.json]
import { parseArgs } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeOpenAI } from '../test/fake-openai.ts';
import { startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { applyMigrations } from '../src/db.ts';
import { createLogger } from '../src/logger.ts';
import { benchToken, cpuMs, gqlAt, inBatches, round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,100,400' },
    db: { type: 'string', default: 'pglite:memory' },
    out: { type: 'string', default: 'bench/results/fanout.json' },
  },
});
const SIZES = values.sizes.split(',').map(Number);
const TOKENS = 100;
const TOKEN_MS = 20;
const APPENDS = 20;
const PER_SOCKET = 50;

const vendor = await startFakeOpenAI();
const vendorTimes = { first: 0, last: 0 };
vendor.script('reply', {
  tokens: Array.from({ length: TOKENS }, (_, i) => `t${i} `),
  delayMs: TOKEN_MS,
  onToken: (i) => {
    if (i === 0) vendorTimes.first = performance.now();
    if (i === TOKENS - 1) vendorTimes.last = performance.now();
  },
});
if (values.db.startsWith('postgres')) await applyMigrations(values.db, createLogger({ logLevel: 'warn' }));
const server = await startInstance('fanout', {
  DATABASE_URL: values.db,
  AUTH_JWT_SECRET: JWT_SECRET,
  NODE_ENV: 'production',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0', RATE_LIMIT_STREAMED_MB_PER_HOUR: '0', MAX_STREAMING_REPLIES_PER_USER: '1000000',
  RATE_LIMIT_GENERATIONS_PER_MINUTE: '0',
  WS_MAX_SOCKETS_PER_USER: '100000',
  SUBSCRIPTION_COST_PER_USER: '100000000', // one bench viewer holds every subscription
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '1000',
  OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
  OPENAI_COMPATIBLE_NAME: 'bench',
  OPENAI_COMPATIBLE_MODELS: 'reply',
  CONVERSATION_TITLES: 'off',
});
const token = await benchToken('fanout');
const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(server.url, token, query, variables);
const cpu = () => cpuMs(server.process.pid!);

async function sockets(n: number): Promise<Client[]> {
  return inBatches(Math.ceil(n / PER_SOCKET), 20, async () => {
    const client = createClient({ url: server.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve) => client.on('connected', () => resolve()));
    return client;
  });
}

async function newConversation(): Promise<string> {
  return (await gql(`mutation { createConversation(input: { title: "fan-out", model: "bench:reply" }) { conversation { id } } }`)).createConversation.conversation.id;
}

const STREAM = `subscription($id: ID!) { messageStream(messageId: $id) { __typename sequenceNumber
  ... on MessageStarted { message { id status content } } ... on MessageCompleted { message { id status content tokens } } } }`;

async function messageStream(n: number) {
  const conversationId = await newConversation();
  await gql(`mutation($c: ID!) { appendMessage(input: { conversationId: $c, role: USER, content: "go", tokens: 1 }) { message { id } } }`, { c: conversationId });
  const clients = await sockets(n);
  const cpuBefore = cpu();
  const { generateReply } = await gql(`mutation($c: ID!) { generateReply(input: { conversationId: $c }) { assistantMessage { id } } }`, { c: conversationId });
  const id = generateReply.assistantMessage.id;
  let lastTerminal = 0;
  let events = 0;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        clients[Math.floor(i / PER_SOCKET)].subscribe<any>({ query: STREAM, variables: { id } }, {
          next: ({ data, errors }) => {
            if (errors) return reject(new Error(JSON.stringify(errors)));
            events++;
            if (data.messageStream.__typename === 'MessageCompleted') lastTerminal = Math.max(lastTerminal, performance.now());
          },
          error: reject,
          complete: resolve,
        });
      }),
    ),
  );
  const serverCpuMs = cpu() - cpuBefore;
  await Promise.all(clients.map((c) => c.dispose()));
  const replyMs = vendorTimes.last - vendorTimes.first;
  const deliveredMs = lastTerminal - vendorTimes.first;
  return { subscribers: n, events, replyMs: round(replyMs), lastTerminalAfterMs: round(deliveredMs), ratio: round(deliveredMs / replyMs), serverCpuMs: round(serverCpuMs) };
}

const SIDEBAR = `subscription { conversationsChanged { type conversation { id title messageCount
  messages(last: 50) { edges { node { id role content } } } } } }`;

async function conversationsChanged(n: number) {
  const conversationId = await newConversation();
  const clients = await sockets(n);
  let received = 0;
  const all = new Promise<void>((resolve, reject) => {
    for (let i = 0; i < n; i++) {
      clients[Math.floor(i / PER_SOCKET)].subscribe<any>({ query: SIDEBAR }, {
        next: ({ errors }) => {
          if (errors) return reject(new Error(JSON.stringify(errors)));
          if (++received === n * APPENDS) resolve();
        },
        error: reject,
        complete: () => {},
      });
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 500)); // every subscription open
  const cpuBefore = cpu();
  const started = performance.now();
  for (let i = 0; i < APPENDS; i++) {
    await gql(`mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t, tokens: 3 }) { message { id } } }`, { c: conversationId, t: `message ${i}` });
  }
  await all;
  const elapsedMs = performance.now() - started;
  const serverCpuMs = cpu() - cpuBefore;
  await Promise.all(clients.map((c) => c.dispose()));
  return { subscribers: n, events: received, allDeliveredMs: round(elapsedMs), serverCpuMs: round(serverCpuMs) };
}

const streams = [];
const sidebars = [];
for (const n of SIZES) {
  streams.push(await messageStream(n));
  sidebars.push(await conversationsChanged(n));
  console.error(`N=${n}`, JSON.stringify(streams.at(-1)), JSON.stringify(sidebars.at(-1)));
}
server.process.kill('SIGTERM');
await vendor.close();

/** Server CPU per extra subscriber and event: the slope between the two largest sizes (the first size run also warms the server up). */
const slope = (rows: { subscribers: number; serverCpuMs: number }[], eventsPerSubscriber: number) => {
  const [a, b] = [rows.at(-2)!, rows.at(-1)!];
  return round(((b.serverCpuMs - a.serverCpuMs) * 1000) / ((b.subscribers - a.subscribers) * eventsPerSubscriber));
};
const streamEvents = streams[0].events; // per subscriber
const extra = { messageStreamUsPerSubscriberEvent: slope(streams, streamEvents), conversationsChangedUsPerSubscriberEvent: slope(sidebars, APPENDS) };
writeResult(values.out, { date: new Date().toISOString(), node: process.version, db: values.db.split(':')[0], tokens: TOKENS, tokenMs: TOKEN_MS, appends: APPENDS, streams, sidebars, extra });

console.log(`\n${values.db.split(':')[0]}: messageStream, a reply of ${TOKENS} tokens every ${TOKEN_MS} ms\n`);
console.log('| subscribers | reply | last terminal event after its first token | ratio | server CPU |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of streams) console.log(`| ${r.subscribers} | ${r.replyMs} ms | ${r.lastTerminalAfterMs} ms | ${r.ratio} | ${r.serverCpuMs} ms |`);
console.log(`\nconversationsChanged with the conversation and its last 50 messages, ${APPENDS} appends\n`);
console.log('| subscribers | all events delivered | server CPU |');
console.log('| --- | --- | --- |');
for (const r of sidebars) console.log(`| ${r.subscribers} | ${r.allDeliveredMs} ms | ${r.serverCpuMs} ms |`);
console.log(`\nan extra subscriber costs: messageStream ${extra.messageStreamUsPerSubscriberEvent} µs per event, conversationsChanged ${extra.conversationsChangedUsPerSubscriberEvent} µs per event`);
process.exit(0);
