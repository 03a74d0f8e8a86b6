// conversationEvents and conversationsChanged deliver every event type, over graphql-ws and over SSE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMessage, createConversation, startTestApp, subscribe, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let t: TestApp;
let server: RunningServer;
beforeAll(async () => {
  t = await startTestApp();
  server = await t.listen();
});
afterAll(() => t.close());

const EVENTS = /* GraphQL */ `
  subscription($id: ID!) {
    conversationEvents(conversationId: $id) { type conversationId conversation { title status messageCount } message { content position } }
  }`;
const SIDEBAR = /* GraphQL */ `subscription { conversationsChanged { type conversationId conversation { title status } message { content } } }`;

const settle = () => new Promise((r) => setTimeout(r, 150)); // the subscription is registered server-side

/**
 * Each change of a conversation's life, one after another. An event's rows are read when it is delivered,
 * so `delivered(n)` waits for the n-th event before the next change: what an event shows is then the row
 * as that change left it.
 */
async function driveLifecycle(viewer: TestViewer, id: string, delivered: (n: number) => Promise<unknown>) {
  const m = (name: string, extra = '') => t.gql(`mutation($id: ID!) { ${name}(input: { id: $id${extra} }) { __typename } }`, { id }, viewer);
  const changes = [
    () => m('updateConversation', ', title: "renamed"'),
    () => appendMessage(t, viewer, id, { content: 'hello' }),
    () => m('archiveConversation'),
    () => m('unarchiveConversation'),
    () => m('deleteConversation'),
    () => m('restoreConversation'),
    () => m('purgeConversation'),
  ];
  for (const [i, change] of changes.entries()) {
    await change();
    await delivered(i + 1);
  }
}

describe('over graphql-ws', () => {
  it('conversationEvents delivers each change of one conversation, current rows included', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { title: 'watched' });
    const client = wsClient(server, viewer);
    const sub = subscribe(client, EVENTS, { id: c.id });
    await settle();
    await driveLifecycle(viewer, c.id, (n) => sub.next(n));
    const events = (await sub.next(7)).map((r) => r.data.conversationEvents);
    expect(events.map((e) => e.type)).toEqual([
      'CONVERSATION_UPDATED', 'MESSAGE_ADDED', 'CONVERSATION_UPDATED', 'CONVERSATION_UPDATED',
      'CONVERSATION_DELETED', 'CONVERSATION_UPDATED', 'CONVERSATION_DELETED',
    ]);
    expect(events.every((e) => e.conversationId === c.id)).toBe(true);
    expect(events[0].conversation).toMatchObject({ title: 'renamed' });
    expect(events[1]).toMatchObject({ message: { content: 'hello', position: 1 }, conversation: { messageCount: 1 } });
    expect(events[4].conversation.status).toBe('DELETED');
    expect(events[6].conversation).toBeNull(); // purged
    await client.dispose();
  });

  it('conversationsChanged covers every conversation of the viewer, creation included', async () => {
    const viewer = await t.viewer();
    const client = wsClient(server, viewer);
    const sub = subscribe(client, SIDEBAR);
    await settle();
    const a = await createConversation(t, viewer, { title: 'first' });
    const b = await createConversation(t, viewer, { title: 'second' });
    await appendMessage(t, viewer, b.id, { content: 'on b' });
    const events = (await sub.next(3)).map((r) => r.data.conversationsChanged);
    expect(events).toEqual([
      { type: 'CONVERSATION_CREATED', conversationId: a.id, conversation: { title: 'first', status: 'ACTIVE' }, message: null },
      { type: 'CONVERSATION_CREATED', conversationId: b.id, conversation: { title: 'second', status: 'ACTIVE' }, message: null },
      { type: 'MESSAGE_ADDED', conversationId: b.id, conversation: { title: 'second', status: 'ACTIVE' }, message: { content: 'on b' } },
    ]);
    await client.dispose();
  });

  it('does not replay the first result of an idempotent repeat as a new event', async () => {
    const viewer = await t.viewer();
    const client = wsClient(server, viewer);
    const sub = subscribe(client, SIDEBAR);
    await settle();
    await createConversation(t, viewer, { idempotencyKey: 'once' });
    await createConversation(t, viewer, { idempotencyKey: 'once' });
    await createConversation(t, viewer, { title: 'marker' });
    const events = await sub.next(2);
    expect(events[1].data.conversationsChanged.conversation.title).toBe('marker');
    await client.dispose();
  });

  it('refuses a malformed conversation id, an id of another type and an invalid document', async () => {
    const viewer = await t.viewer();
    const client = wsClient(server, viewer);
    const bad = subscribe(client, EVENTS, { id: 'garbage' });
    const [result] = await bad.next(1).catch(() => [undefined]);
    const errors = (result?.errors ?? bad.error) as any[];
    expect(errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const otherType = subscribe(client, EVENTS, { id: Buffer.from('Message:m1').toString('base64') });
    const [otherResult] = await otherType.next(1).catch(() => [undefined]);
    expect(((otherResult?.errors ?? otherType.error) as any[])[0].extensions.code).toBe('BAD_USER_INPUT');
    const invalid = subscribe(client, 'subscription { nope }');
    await invalid.next(1).catch(() => undefined);
    expect((invalid.error as any[])[0].extensions.code).toBe('BAD_USER_INPUT');
    await client.dispose();
  });
});

describe('over SSE', () => {
  it('streams conversationEvents as text/event-stream', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { title: 'sse' });
    const abort = new AbortController();
    const response = await fetch(server.url, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${viewer.token}` },
      body: JSON.stringify({ query: EVENTS, variables: { id: c.id } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    await settle();
    await appendMessage(t, viewer, c.id, { content: 'via sse' });
    let text = '';
    while (!text.includes('via sse')) text += (await reader.read()).value ?? '';
    const event = JSON.parse(text.split('\n').find((line) => line.startsWith('data:') && line.includes('via sse'))!.slice(5));
    expect(event.data.conversationEvents).toMatchObject({ type: 'MESSAGE_ADDED', message: { content: 'via sse' } });
    abort.abort();
  });

  it('answers NOT_FOUND over SSE for a foreign conversation', async () => {
    const owner = await t.viewer();
    const other = await t.viewer();
    const c = await createConversation(t, owner);
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${other.token}` },
      body: JSON.stringify({ query: EVENTS, variables: { id: c.id } }),
    });
    const text = await response.text();
    expect(text).toContain('"NOT_FOUND"');
  });
});
