// While one tenant sends the worst input it can build, how long does another tenant's small query take?
// A server process (as `npm start` runs it); a victim sends `{ viewer { userId } conversations(first: 1)
// { totalCount } }` one after another, first alone (the floor, measured in the same run), then while an
// attacker keeps `--concurrency` appends of 100,000 characters made to be slow to tokenize in flight.
//
//   node --import tsx bench/hostile.ts [--seconds 10] [--concurrency 4] [--db pglite:memory] [--out bench/results/hostile.json]
import { parseArgs } from 'node:util';
import { startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, cpuMs, gqlAt, latencySummary, round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '4' },
    db: { type: 'string', default: 'pglite:memory' },
    out: { type: 'string', default: 'bench/results/hostile.json' },
  },
});
const SECONDS = Number(values.seconds);

let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const text = (piece: () => string) => {
  let s = '';
  while (s.length < 100_000) s += piece();
  return s.slice(0, 100_000);
};
/** One piece as long as the text: the worst cases of byte-pair encoding, fresh each time (no cache helps). */
const hostile = [
  () => text(() => String.fromCharCode(0x4e00 + Math.floor(random() * 20_000))),
  () => text(() => String.fromCharCode(97 + Math.floor(random() * 26))),
  () => text(() => String.fromCodePoint(0x1f300 + Math.floor(random() * 700))),
  () => text(() => [' ', '\t', '\r', '\u3000'][Math.floor(random() * 4)]),
];

const server = await startInstance('hostile', { DATABASE_URL: values.db, AUTH_JWT_SECRET: JWT_SECRET, LOG_LEVEL: 'info', RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0' });
const [victim, attacker] = [await benchToken('victim'), await benchToken('attacker')];
const SMALL = '{ viewer { userId } conversations(first: 1) { totalCount } }';
const { id: conversationId } = (await gqlAt(server.url, attacker, 'mutation { createConversation(input: {}) { conversation { id } } }')).createConversation.conversation;

async function victimFor(seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const start = performance.now();
    await gqlAt(server.url, victim, SMALL);
    latencies.push(performance.now() - start);
  }
  return latencies;
}

await victimFor(1); // warm up
const alone = await victimFor(SECONDS);

let attacking = true;
let appends = 0;
const cpuBefore = cpuMs(server.process.pid!);
const attack = async (worker: number) => {
  for (let i = worker; attacking; i++) {
    await gqlAt(server.url, attacker, `mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { tokens } } }`, {
      c: conversationId,
      t: hostile[i % hostile.length](),
    });
    appends++;
  }
};
const attackers = Array.from({ length: Number(values.concurrency) }, (_, i) => attack(i));
const during = await victimFor(SECONDS);
attacking = false;
await Promise.all(attackers);
const serverCpu = cpuMs(server.process.pid!) - cpuBefore;
server.process.kill('SIGTERM');
await server.exited;

const report = {
  date: new Date().toISOString(),
  node: process.version,
  db: values.db.split(':')[0],
  seconds: SECONDS,
  concurrency: Number(values.concurrency),
  victimAlone: { requests: alone.length, ...latencySummary(alone) },
  victimUnderAttack: { requests: during.length, ...latencySummary(during) },
  attack: { appendsOf100kChars: appends, serverCpuMsPerAppend: round(serverCpu / Math.max(1, appends)) },
};
writeResult(values.out, report);
console.log(`victim alone:        ${alone.length} requests, p50 ${report.victimAlone.p50} ms, p99 ${report.victimAlone.p99} ms, max ${report.victimAlone.max} ms`);
console.log(`victim under attack: ${during.length} requests, p50 ${report.victimUnderAttack.p50} ms, p99 ${report.victimUnderAttack.p99} ms, max ${report.victimUnderAttack.max} ms`);
console.log(`attack: ${appends} appends of 100,000 hostile characters, ${report.attack.serverCpuMsPerAppend} ms of server CPU each`);
process.exit(0);
