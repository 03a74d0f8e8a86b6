// The edges of a stream's life: retention running out, and a subscriber that stops reading.
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createConversation, startTestApp, subscribe, wsClient, type TestApp } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let t: TestApp;
let server: RunningServer;
beforeAll(async () => {
  t = await startTestApp({ STREAM_RETENTION_SECONDS: '1', ECHO_DELAY_MS: '0', CONTEXT_MAX_TOKENS: '200000' });
  server = await t.listen();
});
afterAll(() => t.close());

const STREAM = `subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSequenceNumber: $after) { ... on MessageFailed { error }
  __typename sequenceNumber ... on MessageDelta { delta } ... on MessageCompleted { message { status content } } } }`;
const SEND = `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { assistantMessage { id } } }`;

it('after the retention period a subscriber gets the terminal event alone, with the whole message', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  const { assistantMessage } = (await t.gql(SEND, { c: c.id, t: 'short lived log' }, viewer)).sendMessage;
  const client = wsClient(server, viewer);
  const full = (await subscribe(client, STREAM, { id: assistantMessage.id }).all()).map((r) => r.data.messageStream);
  expect(full[0].__typename).toBe('MessageStarted');
  expect(full.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('')).toBe('short lived log');
  const terminal = full.at(-1);

  await new Promise((r) => setTimeout(r, 2500));
  const late = (await subscribe(client, STREAM, { id: assistantMessage.id }).all()).map((r) => r.data.messageStream);
  expect(late).toEqual([{ __typename: 'MessageCompleted', sequenceNumber: terminal.sequenceNumber, message: { status: 'COMPLETED', content: 'short lived log' } }]);
  // Asking for what comes after the terminal event: nothing.
  expect(await subscribe(client, STREAM, { id: assistantMessage.id, after: terminal.sequenceNumber }).all()).toEqual([]);
  await client.dispose();
});

it('a subscriber that stops reading holds up neither the generation nor other subscribers', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  const text = Array.from({ length: 15_000 }, (_, i) => `w${i}`).join(' ');
  const { assistantMessage } = (await t.gql(SEND, { c: c.id, t: text }, viewer)).sendMessage;

  // A raw graphql-ws client that subscribes, then never reads from its socket again.
  const stalled = new WebSocket(server.url.replace('http', 'ws'), 'graphql-transport-ws');
  await new Promise((resolve) => stalled.once('open', resolve));
  stalled.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${viewer.token}` } }));
  await new Promise((resolve) => stalled.once('message', resolve)); // connection_ack
  stalled.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: STREAM, variables: { id: assistantMessage.id } } }));
  (stalled as any)._socket.pause();

  const client = wsClient(server, viewer);
  const sub = subscribe(client, STREAM, { id: assistantMessage.id });
  const events = (await sub.all(30_000)).map((r) => r.data.messageStream);
  expect(sub.error).toBeUndefined();
  expect(events.at(-1).__typename, JSON.stringify(events.at(-1)).slice(0, 500)).toBe('MessageCompleted');
  expect(events.at(-1).message.status).toBe('COMPLETED');
  expect(events.at(-1).message.content === text).toBe(true); // (not toEqual: a failure would print 90 kB)
  expect(events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('') === text).toBe(true);
  expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
  await client.dispose();
  stalled.terminate();
}, 60_000);
