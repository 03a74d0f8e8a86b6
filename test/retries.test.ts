// A retrying client repeats nothing: a retried send or chat returns its first turn whatever happened since,
// chat is refused over GET as a write, a draining server completes ended subscriptions before it closes
// their sockets, and a conversation deleted during sends runs no reply behind its back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createConversation, startTestApp, subscribe, waitFor, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { recordId } from '../src/idempotency.ts';
import { stopActiveGeneration } from '../src/generation/stop.ts';

const CHAT = `subscription($input: SendMessageInput!) { chat(input: $input) { __typename messageId sequenceNumber ... on MessageDelta { delta } } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } assistantMessage { id } } }`;
const COUNT = `query($id: ID!) { conversation(id: $id) { messageCount } }`;

let t: TestApp;
let server: RunningServer;
beforeAll(async () => {
  t = await startTestApp({ ECHO_DELAY_MS: '5' });
  server = await t.listen();
});
afterAll(() => t.close());

const count = async (viewer: TestViewer, id: string) => (await t.gql(COUNT, { id }, viewer)).conversation.messageCount;

describe('retried sends', () => {
  it('a retried chat follows the same turn from its start and stores nothing', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const input = { conversationId: c.id, content: 'say it twice', idempotencyKey: 'chat-retry-1' };
    const client = wsClient(server, viewer);
    const first = (await subscribe(client, CHAT, { input }).all()).map((r) => r.data.chat);
    const again = (await subscribe(client, CHAT, { input }).all()).map((r) => r.data.chat);
    expect(again).toEqual(first);
    expect(first.at(-1).__typename).toBe('MessageCompleted');
    expect(await count(viewer, c.id)).toBe(2);
    await client.dispose();
  });

  it('a retried send returns its first result after the conversation was archived or its model changed', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const input = { conversationId: c.id, content: 'once only', idempotencyKey: 'send-after-change' };
    const first = (await t.gql(SEND, { input }, viewer)).sendMessage;
    await t.gql(`mutation($id: ID!) { updateConversation(input: { id: $id, systemPrompt: "changed" }) { conversation { id } } }`, { id: c.id }, viewer);
    await t.gql(`mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { status } } }`, { id: c.id }, viewer);
    expect((await t.gql(SEND, { input }, viewer)).sendMessage).toEqual(first);
    expect(await count(viewer, c.id)).toBe(2);
  });

  it.each(['REJECT', 'INTERRUPT'])('repeats sent at once with one key (%s) all get the first result, and its reply runs to its end', async (policy) => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const input = { conversationId: c.id, content: 'one two three four five six', idempotencyKey: `at-once-${policy}`, onActiveGeneration: policy };
    const answers = await Promise.all(Array.from({ length: 4 }, () => t.request(SEND, { input }, viewer)));
    expect(answers.map(({ body }) => body.errors?.[0]?.extensions?.code ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'ok']);
    const replies = new Set(answers.map(({ body }) => body.data.sendMessage.assistantMessage.id));
    expect(replies.size).toBe(1);
    const [reply] = replies;
    // Not interrupted by its own repeats: it runs to its end.
    await waitFor(async () => (await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { status } } }`, { id: reply }, viewer)).node.status !== 'STREAMING', 'the reply to end');
    const { node } = await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { status content } } }`, { id: reply }, viewer);
    expect(node).toEqual({ status: 'COMPLETED', content: 'one two three four five six' });
    expect(await count(viewer, c.id)).toBe(2);
  });

  it("an INTERRUPT leaves running the reply its own key's first attempt started (as a repeat on another instance would meet it)", async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    const { sendMessage } = await t.gql(SEND, { input: { conversationId: c.id, content: words, idempotencyKey: 'first' } }, viewer);
    const raw = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1];
    const { prisma, pubsub, eventLog, generation, log } = t.app.services;
    const deps = { prisma, pubsub, eventLog, generation, log };
    const key = (idempotencyKey: string) => recordId({ viewer: { userId: viewer.userId, orgId: viewer.orgId }, operation: 'sendMessage', key: idempotencyKey });
    // What a repeat of the same key does before it interrupts: its own first attempt's reply runs on.
    await stopActiveGeneration(deps, raw(c.id), key('first'));
    expect((await prisma.message.findUniqueOrThrow({ where: { id: raw(sendMessage.assistantMessage.id) } })).status).toBe('STREAMING');
    // Another key's INTERRUPT stops it.
    await stopActiveGeneration(deps, raw(c.id), key('another'));
    expect((await prisma.message.findUniqueOrThrow({ where: { id: raw(sendMessage.assistantMessage.id) } })).status).toBe('CANCELLED');
  });

  it('refuses chat over GET, as a mutation is, and stores nothing', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const url = new URL(server.url);
    url.searchParams.set('query', CHAT);
    url.searchParams.set('variables', JSON.stringify({ input: { conversationId: c.id, content: 'via a link' } }));
    for (const accept of ['text/event-stream', 'application/graphql-response+json']) {
      const response = await fetch(url, { headers: { accept, authorization: `Bearer ${viewer.token}` } });
      expect(response.status).toBe(405);
      expect(await response.text()).toContain('chat is a write');
    }
    expect(await count(viewer, c.id)).toBe(0);
  });
});

describe('a conversation deleted while sends arrive', () => {
  it('runs no reply after the delete: each one is cancelled or was never stored', async () => {
    const viewer = await t.viewer();
    for (let round = 0; round < 3; round++) {
      const c = await createConversation(t, viewer, { model: 'builtin:echo' });
      // Sends keep coming until after the delete has answered: one lands whenever no reply runs.
      let deleted = false;
      const sender = async (i: number) => {
        for (let n = 0; !deleted; n++) {
          await t.request(SEND, { input: { conversationId: c.id, content: `racing ${i} ${n} `.repeat(20) } }, viewer);
          // A client's next request arrives as I/O does. In process, on the embedded database, a request can
          // complete in microtasks alone, and a loop of them would never let the timer below fire.
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      const senders = [0, 1, 2].map(sender);
      await new Promise((resolve) => setTimeout(resolve, 60));
      await t.gql(`mutation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { status } } }`, { id: c.id }, viewer);
      deleted = true;
      await Promise.all(senders);
      const rawId = Buffer.from(c.id, 'base64').toString().split(':')[1];
      const streaming = () => t.app.services.prisma.message.count({ where: { conversationId: rawId, status: 'STREAMING' } });
      await waitFor(async () => (await streaming()) === 0, 'every reply to have ended');
      const replies = await t.app.services.prisma.message.findMany({ where: { conversationId: rawId, role: 'ASSISTANT' }, select: { status: true } });
      expect(replies.length).toBeGreaterThan(0);
      expect(replies.filter((reply) => reply.status === 'COMPLETED' || reply.status === 'STREAMING')).toEqual([]);
    }
  }, 60_000);

  it('refuses a send at once while the delete waits for a reply that is slow to stop', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const rawId = Buffer.from(c.id, 'base64').toString().split(':')[1];
    const { prisma } = t.app.services;
    // A reply whose runner does not answer (its instance is away): the delete waits for it a while.
    await prisma.conversation.update({ where: { id: rawId }, data: { messageCount: 1 } });
    const stuck = await prisma.message.create({ data: { conversationId: rawId, position: 1, role: 'ASSISTANT', status: 'STREAMING', runnerId: 'elsewhere', heartbeatAt: new Date(), sequenceNumber: 1000 } });
    await t.app.services.eventLog.open(stuck.id);
    const deleting = t.gql(`mutation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { status } } }`, { id: c.id }, viewer);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Deleted from the moment the delete acts: no send can start a reply behind its stop.
    for (const policy of ['REJECT', 'INTERRUPT']) {
      const send = await t.request(SEND, { input: { conversationId: c.id, content: 'sneaking in', onActiveGeneration: policy } }, viewer);
      expect(send.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect((await deleting).deleteConversation.conversation.status).toBe('DELETED');
    const replies = await prisma.message.findMany({ where: { conversationId: rawId }, select: { status: true } });
    expect(replies).toEqual([{ status: 'CANCELLED' }]);
  }, 30_000);
});

describe('a draining server', () => {
  it('completes a subscription whose stream has ended before it closes the socket with 1001', async () => {
    const own = await startTestApp({ ECHO_DELAY_MS: '20', SHUTDOWN_GRACE_MS: '5000' });
    const ownServer = await own.listen();
    const viewer = await own.viewer();
    const c = await createConversation(own, viewer, { model: 'builtin:echo' });
    let closeCode = 0;
    const client = createClient({
      url: ownServer.url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${viewer.token}` },
      on: { closed: (event) => void (closeCode = (event as CloseEvent).code) },
    });
    const events: any[] = [];
    const ended = new Promise<string>((resolve) =>
      client.subscribe(
        { query: CHAT, variables: { input: { conversationId: c.id, content: 'a few words to finish while draining' } } },
        { next: (r) => void events.push(r.data!.chat), complete: () => resolve('complete'), error: () => resolve('error') },
      ),
    );
    await waitFor(() => events.length >= 2, 'the reply to begin');
    ownServer.stopAccepting();
    await own.app.drain();
    await ownServer.close();
    expect(await ended).toBe('complete');
    expect(events.at(-1).__typename).toBe('MessageCompleted');
    await waitFor(() => closeCode !== 0, 'the socket to close');
    expect(closeCode).toBe(1001);
    await own.close();
  });
});
