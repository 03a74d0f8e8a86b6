// Faults mid-stream: PostgreSQL unreachable as a reply ends (through a proxy this test cuts, never the
// machine's server itself), a message left to this instance that no longer runs, and a stream whose log
// never gets its end. In every case the message ends, its followers get the end, and nothing is lost.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../src/generated/prisma/client.ts';
import { createConversation, expectErrorCode, startTestApp, subscribe, waitFor, waitForMessageStatus, wsClient, type TestApp } from './helpers.ts';
import { ADMIN_DATABASE_URL, createScratchDatabase } from './cluster.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
import { recoverAbandonedGenerations } from '../src/generation/recovery.ts';
import { followMessage } from '../src/generation/stream.ts';
import { isRefusal } from '../src/generation/runner.ts';
import type { RunningServer } from '../src/server.ts';

const STREAM = `subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSequenceNumber: $after) {
  __typename sequenceNumber ... on MessageDelta { delta } ... on MessageCompleted { message { status content } } } }`;
const SEND = `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { assistantMessage { id } } }`;
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');

/** A reply of builtin:echo to `text`, in a new conversation of a new viewer, and a WebSocket follower of its stream. */
async function followedReply(t: TestApp, server: RunningServer, text: string) {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  const { assistantMessage } = (await t.gql(SEND, { c: c.id, t: text }, viewer)).sendMessage;
  const client = wsClient(server, viewer);
  return { viewer, c, assistantMessage, client, stream: subscribe(client, STREAM, { id: assistantMessage.id }) };
}

/**
 * Before a describe's tests, an app on a scratch database of the machine's PostgreSQL, reached through a
 * proxy the tests cut or silence (never the server itself); after them, all of it gone.
 */
function appBehindProxy(env: Record<string, string>, started: (parts: { t: TestApp; proxy: TcpProxy; server: RunningServer; databaseUrl: string }) => void): void {
  let database: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let proxy: TcpProxy | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    database = await createScratchDatabase();
    const admin = new URL(ADMIN_DATABASE_URL);
    proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
    const url = new URL(database.url);
    url.port = String(proxy.port);
    t = await startTestApp({ DATABASE_URL: url.toString(), ...env });
    started({ t, proxy, server: await t.listen(), databaseUrl: url.toString() });
  });
  afterAll(async () => {
    proxy?.restore();
    await t?.close();
    await proxy?.close();
    await database?.drop();
  });
}

describe('PostgreSQL away as a reply ends', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let server: RunningServer;
  appBehindProxy({ ECHO_DELAY_MS: '30' }, (started) => ({ t, proxy, server } = started));

  it('keeps the finished text, writes it once PostgreSQL is back, and its followers get the end', async () => {
    const text = words(30);
    const { viewer, c, assistantMessage, client, stream } = await followedReply(t, server, text);
    await stream.next(25); // most of the reply is out: cut the database as it ends
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    proxy.restore();

    const events = (await stream.all(30_000)).map((r) => r.data.messageStream);
    expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'COMPLETED', content: text } });
    expect(events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('')).toBe(text);
    await client.dispose();

    const stored = await t.gql(`query($id: ID!) { conversation(id: $id) { totalTokens messages { edges { node { status content tokens } } } } }`, { id: c.id }, viewer);
    const [user, reply] = stored.conversation.messages.edges.map((e: any) => e.node);
    expect(reply).toMatchObject({ status: 'COMPLETED', content: text });
    expect(stored.conversation.totalTokens).toBe(user.tokens + reply.tokens); // counted once
  }, 60_000);
});

describe('PostgreSQL away while a long reply streams', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let server: RunningServer;
  appBehindProxy({ ECHO_DELAY_MS: '1', CONTEXT_MAX_TOKENS: '200000' }, (started) => ({ t, proxy, server } = started));

  it('pauses at the event numbers the database holds, and goes on, gapless, when it is back', async () => {
    const text = words(2500);
    const { assistantMessage, client, stream } = await followedReply(t, server, text);
    await stream.next(100);
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // longer than the reply takes with the database up
    const duringOutage = stream.results.length;
    proxy.restore();
    // No event was delivered past the numbers the database had reserved (a block of 1,000 at the start).
    expect(duringOutage).toBeLessThanOrEqual(1_001);
    const events = (await stream.all(60_000)).map((r) => r.data.messageStream);
    expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'COMPLETED', content: text } });
    await client.dispose();
  }, 90_000);
});

describe('PostgreSQL silent: packets dropped, connections left open', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let server: RunningServer;
  let databaseUrl: string;
  const STATEMENT_TIMEOUT_MS = 1_000; // a connection silent for 2 s with a statement out is dropped
  appBehindProxy({ ECHO_DELAY_MS: '20', DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) }, (started) => ({ t, proxy, server, databaseUrl } = started));

  const LIST = `{ conversations(first: 5) { edges { node { id title } } } }`;

  it('fails reads, writes and readiness instead of waiting for ever, and serves again once the link is back', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    await t.gql(LIST, {}, viewer); // a few pooled connections, idle, open through the proxy
    proxy.silence();
    const [read, write, ready] = await Promise.all([
      t.request(LIST, {}, viewer),
      t.request(`mutation($c: ID!) { updateConversation(input: { id: $c, title: "renamed" }) { conversation { title } } }`, { c: c.id }, viewer),
      fetch(server.url.replace("/graphql", "/ready")),
    ]);
    expectErrorCode(read.body, 'INTERNAL_SERVER_ERROR');
    expectErrorCode(write.body, 'INTERNAL_SERVER_ERROR');
    expect(ready.status).toBe(503);
    proxy.restore();
    const after = await t.gql(LIST, {}, viewer);
    expect(after.conversations.edges.map((e: any) => e.node.title)).toEqual(['A conversation']); // the write failed whole
  }, 30_000);

  it('a statement that runs longer than the timeout is cancelled by PostgreSQL, and its connection serves on', async () => {
    const { readRows, prisma } = t.app.services;
    await expect(readRows(Prisma.sql`SELECT pg_sleep(${(STATEMENT_TIMEOUT_MS * 3) / 1000})`)).rejects.toThrow(/statement timeout/);
    expect(await readRows(Prisma.sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
    // A reply's final write cancelled so (a row lock held long, a busy server) is tried again, never taken for a
    // refusal that would give up the reply's unsaved text; a statement PostgreSQL refuses is one.
    const cancelled = await prisma.$executeRaw`SELECT pg_sleep(${(STATEMENT_TIMEOUT_MS * 3) / 1000})`.catch((error: unknown) => error);
    expect(isRefusal(cancelled)).toBe(false);
    const refused = await prisma.$executeRaw`SELECT 1 / 0`.catch((error: unknown) => error);
    expect(isRefusal(refused)).toBe(true);
  });

  it('a reply streaming through the silence keeps its text, writes it once the link is back, and its followers get the end', async () => {
    const text = words(150);
    const { viewer, assistantMessage, client, stream } = await followedReply(t, server, text);
    await stream.next(20);
    proxy.silence();
    // Past the reply's own end, and past two silence limits: its writes' connections are dropped meanwhile,
    // and nothing of the reply may go with them.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    proxy.restore();
    const events = (await stream.all(30_000)).map((r) => r.data.messageStream);
    expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'COMPLETED', content: text } });
    await client.dispose();
    const reply = await waitForMessageStatus((q, v) => t.gql(q, v, viewer), assistantMessage.id, 'COMPLETED');
    expect(reply.content).toBe(text);
  }, 60_000);

  it('`db:migrate` gives up opening a connection after DATABASE_STATEMENT_TIMEOUT_MS instead of waiting for ever', async () => {
    proxy.silence();
    try {
      const migrate = spawn(process.execPath, ['--import', 'tsx', 'src/migrate/cli.ts', 'deploy'], {
        env: { ...process.env, DATABASE_URL: databaseUrl, DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      migrate.stderr.on('data', (chunk) => (stderr += chunk));
      const [code] = await once(migrate, 'exit');
      expect(code).toBe(1);
      expect(stderr).toMatch(/timeout/i);
    } finally {
      proxy.restore();
    }
  }, 30_000);
});

describe('on the embedded database', () => {
  let t: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    t = await startTestApp({ ECHO_DELAY_MS: '0' });
    server = await t.listen();
  });
  afterAll(() => t.close());

  /** A reply this instance started and no longer runs: as if its runner had given up on it. */
  async function orphanOfThisInstance() {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const { prisma, generation } = t.app.services;
    const conversationId = (await prisma.conversation.findFirstOrThrow({ where: { userId: viewer.userId } })).id;
    const row = await prisma.message.create({
      data: { conversationId, position: 1, role: 'ASSISTANT', status: 'STREAMING', content: 'half a rep', sequenceNumber: 1000, runnerId: generation.runnerId, heartbeatAt: new Date(Date.now() - 60_000) },
    });
    const id = Buffer.from(`Message:${row.id}`).toString('base64');
    return { viewer, c, id, row };
  }

  it("recovery takes over this instance's own messages that no longer run", async () => {
    const { viewer, id } = await orphanOfThisInstance();
    const { services } = t.app;
    const recovered = await recoverAbandonedGenerations({ ...services, runnerId: services.generation.runnerId, isRunning: (m) => services.generation.isRunning(m) });
    expect(recovered).toBe(1);
    const message = await waitForMessageStatus((q, v) => t.gql(q, v, viewer), id, 'INTERRUPTED');
    expect(message.content).toBe('half a rep');
  });

  it('a follower whose log never gets the end ends from the database', async () => {
    const { viewer, id, row } = await orphanOfThisInstance();
    await t.app.services.eventLog.open(row.id); // a log whose writer is gone: it will never get its end
    const client = wsClient(server, viewer);
    const stream = subscribe(client, STREAM, { id });
    await waitFor(() => stream.results.length > 0, 'the follower to be reading the log'); // MessageStarted
    // Finished behind the log's back, long enough ago that no copy of the log can still be on its way.
    await t.app.services.prisma.message.update({
      where: { id: row.id },
      data: { status: 'CANCELLED', completedAt: new Date(Date.now() - 60_000), sequenceNumber: 1001, runnerId: null },
    });
    const events = (await stream.all(20_000)).map((r) => r.data.messageStream);
    expect(events.map((e) => e.__typename)).toEqual(['MessageStarted', 'MessageCompleted']);
    expect(events[1]).toEqual({ __typename: 'MessageCompleted', sequenceNumber: 1001, message: { status: 'CANCELLED', content: 'half a rep' } });
    await client.dispose();
  }, 30_000);
  it('a follower whose client reads slowly is not taken for one whose log went silent: it gets every event', async () => {
    const text = words(50);
    const { viewer, assistantMessage, client, stream } = await followedReply(t, server, text);
    await stream.all(10_000);
    await client.dispose();
    const rowId = Buffer.from(assistantMessage.id, 'base64').toString().split(':')[1];
    await waitForMessageStatus((q, v) => t.gql(q, v, viewer), assistantMessage.id, 'COMPLETED');
    // Finished long enough ago that a follower waiting on its log would stop waiting and end from the database.
    await t.app.services.prisma.message.update({ where: { id: rowId }, data: { completedAt: new Date(Date.now() - 60_000) } });
    const events = followMessage(t.app.services, rowId, -1)[Symbol.asyncIterator]();
    const received = [(await events.next()).value];
    // A client that takes a while over one event (a slow network): its follower waits on it, not on the log.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    for (let next = await events.next(); !next.done; next = await events.next()) received.push(next.value);
    const numbers = received.map(({ event }) => event.sequenceNumber);
    expect(numbers).toEqual(numbers.map((_, i) => i));
    expect(received.map(({ event }) => (event.type === 'delta' ? event.delta : '')).join('')).toBe(text);
  }, 20_000);
});

describe('a reply another instance finished while this one could not reach the database', () => {
  let t: TestApp;
  let server: RunningServer;
  beforeAll(async () => {
    t = await startTestApp({ ECHO_DELAY_MS: '20' });
    server = await t.listen();
  });
  afterAll(() => t.close());

  it('stops its runner at its next write, and its stream ends, gapless, as the row says', async () => {
    const { assistantMessage, client, stream } = await followedReply(t, server, words(300));
    const rowId = Buffer.from(assistantMessage.id, 'base64').toString().split(':')[1];
    await stream.next(10);
    // As recovery on another instance does once this one has said nothing for a while: the row finished
    // with the text persisted so far (here, a text of its own, to tell it apart).
    await t.app.services.prisma.message.update({
      where: { id: rowId },
      data: { status: 'INTERRUPTED', content: 'as recovered', completedAt: new Date(), runnerId: null, heartbeatAt: null },
    });
    const events = (await stream.all(20_000)).map((r) => r.data.messageStream);
    await client.dispose();
    expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'INTERRUPTED', content: 'as recovered' } });
    // The runner stopped well before the end of its reply, and wrote nothing over the row.
    const streamed = events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('');
    expect(streamed.length).toBeLessThan(words(300).length / 2);
    await waitFor(() => !t.app.services.generation.isRunning(rowId), 'the runner to stop');
    expect(await t.app.services.prisma.message.findUniqueOrThrow({ where: { id: rowId }, select: { status: true, content: true } })).toEqual({ status: 'INTERRUPTED', content: 'as recovered' });
  }, 30_000);
});
