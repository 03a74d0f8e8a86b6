// Idle subscriptions: what one costs the server in memory while nothing happens. One server process;
// SUBSCRIPTIONS conversationsChanged subscriptions (a sidebar's, with the conversation's fields) over
// SOCKETS sockets of one viewer. Measured from the server's own /metrics (V8's used heap, and the
// resident set), after the sockets are open (with one subscription each) and again after the rest of the
// subscriptions. The heap is read through the server's inspector (started on a free port for this), after a
// full garbage collection asked the same way: what is left is what the subscriptions hold.
//
//   node --import tsx bench/idle.ts [--subscriptions 4000] [--sockets 50] [--out bench/results/idle.json]
import { parseArgs } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, inBatches, round, rssKb, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    subscriptions: { type: 'string', default: '4000' },
    sockets: { type: 'string', default: '50' },
    db: { type: 'string', default: 'pglite:memory' },
    out: { type: 'string', default: 'bench/results/idle.json' },
  },
});
const SUBSCRIPTIONS = Number(values.subscriptions);
const SOCKETS = Number(values.sockets);

const server = await startInstance('idle', {
  DATABASE_URL: values.db,
  AUTH_JWT_SECRET: JWT_SECRET,
  NODE_ENV: 'production',
  NODE_OPTIONS: '--inspect=127.0.0.1:0',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0', RATE_LIMIT_STREAMED_MB_PER_HOUR: '0',
  WS_MAX_SOCKETS_PER_USER: '100000',
  SUBSCRIPTION_COST_PER_USER: '100000000', // one bench viewer holds every subscription
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '10000',
});
const token = await benchToken('idle');
const inspector = new WebSocket(/Debugger listening on (ws:\/\/\S+)/.exec(server.output())![1]);
await new Promise((resolve) => inspector.once('open', resolve));
let calls = 0;
/** One call of the inspector protocol (Chrome DevTools Protocol) to the server. */
function inspect(method: string): Promise<any> {
  const id = ++calls;
  inspector.send(JSON.stringify({ id, method }));
  return new Promise((resolve) => {
    const onMessage = (raw: WebSocket.RawData) => {
      const message = JSON.parse(String(raw));
      if (message.id !== id) return;
      inspector.off('message', onMessage);
      resolve(message.result);
    };
    inspector.on('message', onMessage);
  });
}

/** The server's used heap (bytes) after a full garbage collection. */
async function heapUsed(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await inspect('HeapProfiler.collectGarbage');
  return (await inspect('Runtime.getHeapUsage')).usedSize;
}

const clients: Client[] = await inBatches(SOCKETS, 25, async () => {
  const client = createClient({ url: server.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${token}` } });
  await new Promise<void>((resolve) => client.on('connected', () => resolve()));
  return client;
});
// One subscription of each socket first, so the one-off costs (compiling the document, the pubsub's
// first listener) fall before the first reading.
const open = (client: Client) =>
  client.subscribe({ query: 'subscription { conversationsChanged { type conversationId conversation { id title preview messageCount updatedAt } } }' }, { next: () => {}, error: (e) => console.error(e), complete: () => {} });
for (const client of clients) open(client);
await new Promise((resolve) => setTimeout(resolve, 1000));
const heapBefore = await heapUsed();
const rssBefore = rssKb(server.process.pid!);
for (let i = SOCKETS; i < SUBSCRIPTIONS; i++) open(clients[i % SOCKETS]);
await new Promise((resolve) => setTimeout(resolve, 2000));
const heapAfter = await heapUsed();
const rssAfter = rssKb(server.process.pid!);
const added = SUBSCRIPTIONS - SOCKETS;
const result = {
  subscriptions: SUBSCRIPTIONS,
  sockets: SOCKETS,
  heapKbPerSubscription: round((heapAfter - heapBefore) / 1024 / added),
  rssKbPerSubscription: round((rssAfter - rssBefore) / added),
};
writeResult(values.out, { date: new Date().toISOString(), node: process.version, ...result });
console.log(`\n${SUBSCRIPTIONS} idle conversationsChanged subscriptions over ${SOCKETS} sockets`);
console.log(`| heap per subscription | resident set per subscription |\n| --- | --- |\n| ${result.heapKbPerSubscription} KiB | ${result.rssKbPerSubscription} KiB |`);
inspector.close();
server.process.kill('SIGTERM');
process.exit(0);
