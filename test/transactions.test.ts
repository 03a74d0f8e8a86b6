// Two transactions that lock the same rows in opposite orders deadlock: PostgreSQL breaks one off, and it
// is run again (src/transactions.ts) instead of failing its request. On the machine's PostgreSQL (the
// embedded database has one connection: it cannot deadlock).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createScratchDatabase } from './cluster.ts';
import { createConversation, startTestApp, type TestApp } from './helpers.ts';
import { inTransaction } from '../src/transactions.ts';

let database: Awaited<ReturnType<typeof createScratchDatabase>>;
let t: TestApp;
beforeAll(async () => {
  database = await createScratchDatabase();
  t = await startTestApp({ DATABASE_URL: database.url });
});
afterAll(async () => {
  await t?.close();
  await database?.drop();
});

it('a transaction broken off for a deadlock is run again, and both end', async () => {
  const viewer = await t.viewer();
  const rawId = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1];
  const [a, b] = await Promise.all([createConversation(t, viewer), createConversation(t, viewer)].map(async (c) => rawId((await c).id)));
  let attempts = 0;
  let holding = 0;
  let bothHold: () => void;
  const bothHolding = new Promise<void>((resolve) => (bothHold = resolve));
  const lockInTurn = (first: string, second: string) =>
    inTransaction(t.app.services.prisma, async (tx) => {
      attempts += 1;
      await tx.$queryRaw`SELECT 1 FROM "Conversation" WHERE "id" = ${first} FOR UPDATE`;
      if (++holding === 2) bothHold();
      await bothHolding; // the first time, each holds its first row when it asks for the other's
      await tx.$queryRaw`SELECT 1 FROM "Conversation" WHERE "id" = ${second} FOR UPDATE`;
      return first;
    });
  expect(await Promise.all([lockInTurn(a, b), lockInTurn(b, a)])).toEqual([a, b]);
  expect(attempts).toBe(3); // one of the two, twice
}, 30_000);
