// Numbers from clients and providers cannot corrupt state: counts are validated, counters cannot
// overflow, and a row that recovery cannot finish never stops a server from starting.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { appendMessage, createConversation, expectErrorCode, startTestApp, waitFor, waitForMessageStatus, type TestApp } from './helpers.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';

let t: TestApp;
let vendor: FakeOpenAI;
beforeAll(async () => {
  vendor = await startFakeOpenAI();
  t = await startTestApp({ OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL, OPENAI_COMPATIBLE_NAME: 'fake', OPENAI_COMPATIBLE_MODELS: 'm', ECHO_DELAY_MS: '0', PROVIDER_THREADS: '0' });
});
afterAll(async () => {
  await t.close();
  await vendor.close();
});

const SEND = `mutation($c: ID!, $m: String) { sendMessage(input: { conversationId: $c, content: "count me", model: $m }) { assistantMessage { id } } }`;
const COUNTERS = `query($id: ID!) { conversation(id: $id) { messageCount totalTokens } }`;
const MESSAGE = `query($id: ID!) { node(id: $id) { ... on Message { status tokens usage { promptTokens completionTokens totalTokens } } } }`;

describe('client counts', () => {
  it.each([-1, 1.5, 10_000_001, 2_147_483_600])('refuses tokens: %s and stores nothing', async (tokens) => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const { body } = await t.request(
      `mutation($c: ID!, $n: Int) { appendMessage(input: { conversationId: $c, role: USER, content: "x", tokens: $n }) { message { id } } }`,
      { c: c.id, n: tokens },
      viewer,
    );
    expectErrorCode(body, 'BAD_USER_INPUT');
    expect((await t.gql(COUNTERS, { id: c.id }, viewer)).conversation).toEqual({ messageCount: 0, totalTokens: 0 });
  });

  it('sums past the largest Int without overflowing; replies, delete and purge still work', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    for (let i = 0; i < 215; i++) await appendMessage(t, viewer, c.id, { content: `m${i}`, tokens: 10_000_000 });
    expect((await t.gql(COUNTERS, { id: c.id }, viewer)).conversation).toEqual({ messageCount: 215, totalTokens: 2_147_483_647 });

    const { assistantMessage } = (await t.gql(SEND, { c: c.id }, viewer)).sendMessage;
    expect((await waitForMessageStatus((q, v) => t.gql(q, v, viewer), assistantMessage.id, 'COMPLETED')).status).toBe('COMPLETED');
    await t.gql(`mutation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { status } } }`, { id: c.id }, viewer);
    await t.gql(`mutation($id: ID!) { purgeConversation(input: { id: $id }) { purgedConversationId } }`, { id: c.id }, viewer);
  }, 60_000);
});

describe('provider counts', () => {
  it('takes absurd usage from a provider as unknown, and the reply completes', async () => {
    vendor.script('m', { tokens: ['fine ', 'reply'], usage: { prompt: 1e15, completion: -3 } });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'fake:m' });
    const { assistantMessage } = (await t.gql(SEND, { c: c.id }, viewer)).sendMessage;
    await waitForMessageStatus((q, v) => t.gql(q, v, viewer), assistantMessage.id, 'COMPLETED');
    const { node } = await t.gql(MESSAGE, { id: assistantMessage.id }, viewer);
    expect(node.usage).toBeNull();
    expect(node.tokens).toBe(2); // counted with the tokenizer instead
  });
});

describe('recovery at start', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-api-numbers-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('skips a row it cannot finish, logs it, recovers the rest and serves', async () => {
    const first = await startTestApp({ DATABASE_URL: `pglite:${dir}` });
    // Two replies left STREAMING by a server that died; finishing the second breaks a rule of the database.
    const prisma = first.app.services.prisma;
    const leftStreaming = async (content: string) => {
      const { id: conversationId } = await prisma.conversation.create({ data: { userId: 'someone', model: 'builtin:echo' } });
      const message = await prisma.message.create({ data: { conversationId, position: 1, role: 'ASSISTANT', status: 'STREAMING', content, runnerId: 'dead' } });
      return message.id;
    };
    const [goodId, badId] = [await leftStreaming('kept'), await leftStreaming('unlucky')];
    await prisma.$executeRawUnsafe(`ALTER TABLE "Message" ADD CONSTRAINT no_unlucky CHECK ("status" = 'STREAMING' OR "content" <> 'unlucky')`);
    await first.close();

    const lines: string[] = [];
    const second = await startTestApp({ DATABASE_URL: `pglite:${dir}` }, { log: pino({ level: 'error' }, { write: (line: string) => void lines.push(line) }) });
    try {
      await waitFor(() => lines.length > 0, 'the pass at start to log the row it could not finish');
      const { prisma } = second.app.services;
      await waitFor(async () => (await prisma.message.findUniqueOrThrow({ where: { id: goodId } })).status !== 'STREAMING', 'the other row recovered');
      const rows = await second.app.services.prisma.message.findMany({ where: { id: { in: [goodId, badId] } }, select: { id: true, status: true } });
      expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [goodId]: 'INTERRUPTED', [badId]: 'STREAMING' });
      expect(lines.join('\n')).toContain('could not recover a generation left STREAMING');
      expect(lines.join('\n')).toContain(badId);
      await second.gql('{ viewer { userId } }', {}, await second.viewer()); // and it serves
    } finally {
      await second.close();
    }
  }, 60_000);

  it('serves while it recovers in the background, and a pass stops when the server closes', async () => {
    const many = fs.mkdtempSync(path.join(dir, 'many-'));
    const first = await startTestApp({ DATABASE_URL: `pglite:${many}` });
    // 600 replies left STREAMING by a server that died, each in a conversation of its own: seconds of recovery.
    await first.app.services.prisma.$executeRawUnsafe(`
      WITH c AS (INSERT INTO "Conversation" ("id", "userId", "model") SELECT 'c' || g, 'someone', 'builtin:echo' FROM generate_series(1, 600) g RETURNING "id")
      INSERT INTO "Message" ("id", "conversationId", "position", "role", "status", "content", "runnerId") SELECT 'm' || c."id", c."id", 1, 'ASSISTANT', 'STREAMING', 'kept', 'dead' FROM c`);
    await first.close();

    // Closed as soon as it started: its pass stops after the message it is on (it used to finish them all).
    await (await startTestApp({ DATABASE_URL: `pglite:${many}` })).close();

    const lines: string[] = [];
    const third = await startTestApp({ DATABASE_URL: `pglite:${many}` }, { log: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) });
    const streaming = () => third.app.services.prisma.message.count({ where: { status: 'STREAMING' } });
    try {
      await third.gql('{ viewer { userId } }', {}, await third.viewer()); // it serves
      expect(await streaming()).toBeGreaterThan(300); // before its pass is half done
      // Passes asked for meanwhile (the timer's, every 15 s) are the one running: passes side by side did the work twice.
      const asked = third.app.recoverAbandoned();
      expect(third.app.recoverAbandoned()).toBe(asked);
      await asked;
      expect(await streaming()).toBe(0);
      const passes = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg.includes('marked INTERRUPTED'));
      expect(passes).toHaveLength(1);
      expect(passes[0].recovered).toBeGreaterThan(300);
      await third.app.recoverAbandoned(); // and one asked after it is a pass of its own, with nothing left to do
    } finally {
      await third.close();
    }
  }, 90_000);
});
