// Plans of statements as this server has PostgreSQL plan them: for any values (src/postgres-pool.ts), on a
// scratch database with an owner of many conversations. Each statement must find its rows by the index that
// holds them, not by one that reads a viewer's or a conversation's every row and filters them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Prisma } from '../src/generated/prisma/client.ts';
import type { SqlQuery } from '../src/row-reads.ts';
import { ownConversationsByIdSql } from '../src/loaders.ts';
import { streamingMessageOf, streamingMessages, streamingMessagesOfSql } from '../src/generation/streaming-rows.ts';
import { createScratchDatabase } from './cluster.ts';
import { createConversation, startTestApp } from './helpers.ts';
import { recoverAbandonedGenerations } from '../src/generation/recovery.ts';

let database: Awaited<ReturnType<typeof createScratchDatabase>>;
let client: pg.Client;

beforeAll(async () => {
  database = await createScratchDatabase();
  client = new pg.Client({ connectionString: database.url, options: '-c plan_cache_mode=force_generic_plan' });
  await client.connect();
  // One owner of 2,000 conversations among 100 owners of one.
  await client.query(`INSERT INTO "Conversation" ("id", "userId", "model")
    SELECT 'c' || g, CASE WHEN g <= 2000 THEN 'many' ELSE 'one-' || g END, 'builtin:echo' FROM generate_series(1, 2100) AS g`);
  await client.query('ANALYZE');
}, 60_000);
afterAll(async () => {
  await client?.end();
  await database?.drop();
});

const literal = (value: unknown): string =>
  value === null ? 'NULL' : Array.isArray(value) ? `ARRAY[${value.map(literal).join(', ')}]::text[]` : typeof value === 'number' ? String(value) : client.escapeLiteral(String(value));

/** The plan PostgreSQL keeps for the statement, prepared (for any values), as JSON text. */
async function keptPlan({ text, values }: SqlQuery): Promise<string> {
  await client.query(`PREPARE planned AS ${text}`);
  try {
    // Only indexes to choose from: a table this small would otherwise be read whole, whatever the statement.
    await client.query('SET enable_seqscan = off');
    const args = values.length ? `(${values.map(literal).join(', ')})` : '';
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE planned${args}`);
    return JSON.stringify(rows[0]['QUERY PLAN']);
  } finally {
    await client.query('RESET enable_seqscan');
    await client.query('DEALLOCATE planned');
  }
}

/** The statement a function sends through Prisma's $queryRaw (it answers no rows). */
async function sentBy(read: (db: Pick<Prisma.TransactionClient, '$queryRaw'>) => Promise<unknown>): Promise<SqlQuery> {
  let sent: SqlQuery | undefined;
  const db = { $queryRaw: (strings: TemplateStringsArray, ...values: unknown[]) => ((sent = Prisma.sql(strings, ...values)), Promise.resolve([])) };
  await read(db as unknown as Pick<Prisma.TransactionClient, '$queryRaw'>);
  return sent!;
}

describe('statements planned for any values', () => {
  it("find a viewer's conversations by their ids through the primary key, however many the viewer owns", async () => {
    const plan = await keptPlan(ownConversationsByIdSql({ userId: 'many', orgId: null }, ['c1', 'c2']));
    expect(plan).toContain('"Index Name":"Conversation_pkey"');
    expect(plan).not.toContain('Conversation_orgId_userId');
  });

  it('find STREAMING messages through the partial index that holds only them', async () => {
    const statements = [await sentBy((db) => streamingMessageOf(db, 'c1')), await sentBy(streamingMessages), streamingMessagesOfSql(['c1', 'c2'])];
    for (const statement of statements) expect(await keptPlan(statement), statement.text).toContain('"Index Name":"Message_streaming_conversationId_key"');
  });
});

describe('reads of STREAMING messages', () => {
  it('never filter the status through Prisma, whose CAST of it no partial index matches: a turn, an interrupt, the active reply, recovery', async () => {
    const t = await startTestApp({ ECHO_DELAY_MS: '20' });
    try {
      const viewer = await t.viewer();
      const c = await createConversation(t, viewer, { model: 'builtin:echo' });
      const SEND = `mutation($c: ID!, $t: String!, $p: ActiveGenerationPolicy) { sendMessage(input: { conversationId: $c, content: $t, onActiveGeneration: $p }) { assistantMessage { id } } }`;
      const { statements } = await t.countQueries(async () => {
        await t.gql(SEND, { c: c.id, t: 'a long reply to interrupt '.repeat(20), p: 'REJECT' }, viewer);
        expect((await t.gql(`query($id: ID!) { conversation(id: $id) @include(if: true) { activeGeneration { id } } }`, { id: c.id }, viewer)).conversation.activeGeneration).not.toBeNull();
        await t.gql(SEND, { c: c.id, t: 'instead', p: 'INTERRUPT' }, viewer);
        const { prisma, eventLog, pubsub, log } = t.app.services;
        await recoverAbandonedGenerations({ prisma, eventLog, pubsub, log, runnerId: 'another instance', isRunning: () => true });
      });
      expect(statements.filter((s) => s.includes('STREAMING')).length).toBeGreaterThanOrEqual(4);
      expect(statements.filter((s) => /"status" = CAST\(\$\d+::text AS "(public"\.")?MessageStatus"\)/.test(s))).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
