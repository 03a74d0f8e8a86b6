// Can a search be made slow? One viewer stores `--messages` messages of 100,000 characters made so that a
// search of L characters almost matches at every position (`ab` repeated L/2 − 1 times, then `ac`, over and
// over), and searches for `ab` repeated L/2 times: every trigram of the pattern is there, so the trigram
// index lets every message through, and no message holds it. The floor is the same search with L = 6 over
// text built the same way, in the same run: a search whose cost grew with L would show as a ratio above 1.
// Meanwhile another viewer's small query measures what the searches do to everyone else.
//
//   node --import tsx bench/search.ts [--messages 40] [--rounds 5] [--db pglite:memory] [--out bench/results/search.json]
import { parseArgs } from 'node:util';
import { applyMigrations } from '../src/db.ts';
import { createLogger } from '../src/logger.ts';
import { startInstance } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, gqlAt, latencySummary, round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '5' },
    db: { type: 'string', default: 'pglite:memory' },
    out: { type: 'string', default: 'bench/results/search.json' },
  },
});
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const LENGTH = 100_000;
const RUN = Date.now();
const LONG = 200; // the longest search the API takes
const SHORT = 6; // the shortest for which the text still holds every trigram of the pattern

const almostMatching = (length: number) => {
  const unit = 'ab'.repeat(length / 2 - 1) + 'ac';
  return unit.repeat(Math.ceil(LENGTH / unit.length)).slice(0, LENGTH);
};
const pattern = (length: number) => 'ab'.repeat(length / 2);

if (values.db.startsWith('postgres')) await applyMigrations(values.db, createLogger({ logLevel: 'warn' }));
const server = await startInstance('search', { DATABASE_URL: values.db, AUTH_JWT_SECRET: JWT_SECRET, LOG_LEVEL: 'info', RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_MB_PER_DAY: '0' });
const victim = await benchToken('victim');
const SEARCH = 'query($s: String) { conversations(filter: { search: $s }) { totalCount } }';

/** A viewer whose messages almost match a search of `length` characters. */
async function seed(length: number): Promise<string> {
  const token = await benchToken(`searcher-${length}-${RUN}`); // a viewer of its own on every run: a PostgreSQL database keeps the last run's rows
  const { id } = (await gqlAt(server.url, token, 'mutation { createConversation(input: {}) { conversation { id } } }')).createConversation.conversation;
  const content = almostMatching(length);
  for (let i = 0; i < MESSAGES; i++) {
    await gqlAt(server.url, token, `mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }`, { c: id, t: content });
  }
  return token;
}

/** Median milliseconds of `ROUNDS` searches for `pattern(length)`; each must find nothing. */
async function searchMs(token: string, length: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    const { conversations } = await gqlAt(server.url, token, SEARCH, { s: pattern(length) });
    times.push(performance.now() - start);
    if (conversations.totalCount !== 0) throw new Error(`a search of ${length} characters found something`);
  }
  return round(times.sort((a, b) => a - b)[Math.floor(times.length / 2)]);
}

const [short, long] = [await seed(SHORT), await seed(LONG)];
await searchMs(short, SHORT); // warm up
const floorMs = await searchMs(short, SHORT);

// The long searches, while the victim's query runs one after another.
let searching = true;
const victimLatencies: number[] = [];
const victimLoop = (async () => {
  while (searching) {
    const start = performance.now();
    await gqlAt(server.url, victim, '{ viewer { userId } conversations(first: 1) { totalCount } }');
    victimLatencies.push(performance.now() - start);
  }
})();
const longMs = await searchMs(long, LONG);
searching = false;
await victimLoop;
server.process.kill('SIGTERM');
await server.exited;

const report = {
  date: new Date().toISOString(),
  node: process.version,
  db: values.db.split(':')[0],
  storedCharactersPerViewer: MESSAGES * LENGTH,
  searchMs: { [`floor (${SHORT} characters)`]: floorMs, [`crafted (${LONG} characters)`]: longMs },
  ratio: round(longMs / floorMs),
  victimDuringCraftedSearches: { requests: victimLatencies.length, ...latencySummary(victimLatencies) },
};
writeResult(values.out, report);
console.log(`${MESSAGES} messages of ${LENGTH} characters; search of ${SHORT} characters: ${floorMs} ms, of ${LONG}: ${longMs} ms (${report.ratio}×)`);
console.log(`victim meanwhile: ${victimLatencies.length} requests, p50 ${report.victimDuringCraftedSearches.p50} ms, max ${report.victimDuringCraftedSearches.max} ms`);
process.exit(0);
