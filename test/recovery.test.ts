// A server killed mid-generation leaves, after restart, an INTERRUPTED message with its persisted text —
// never an eternal STREAMING. A real process, killed with SIGKILL, on an embedded database directory.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { JWT_SECRET, makeViewer, waitForMessage } from './helpers.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-api-recovery-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startServer(): Promise<{ url: string; process: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH!, PORT: '0', DATABASE_URL: `pglite:${dataDir}`, AUTH_JWT_SECRET: JWT_SECRET, ECHO_DELAY_MS: '100', LOG_LEVEL: 'info' },
  });
  child = proc;
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /serving GraphQL at (http:\/\/[^"\s]+)/.exec(out);
      if (match) resolve(match[1]);
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { url, process: proc };
}

it('marks the generation INTERRUPTED with its persisted partial text after a crash and restart', async () => {
  const viewer = await makeViewer();
  const gql = async (url: string, query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as any;
    expect(body.errors, JSON.stringify(body)).toBeUndefined();
    return body.data;
  };
  const MESSAGE = `query($id: ID!) { node(id: $id) { ... on Message { status content } } }`;
  const longText = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');

  const first = await startServer();
  const c = (await gql(first.url, `mutation { createConversation(input: { model: "builtin:echo" }) { conversation { id } } }`)).createConversation.conversation;
  const sent = (await gql(first.url, `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { assistantMessage { id } } }`, { c: c.id, t: longText }))
    .sendMessage;
  const id = sent.assistantMessage.id;
  // A subscriber follows it: it will have received more than was stored when the server dies.
  const follower = createClient({ url: first.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${viewer.token}` } });
  const delivered: number[] = [];
  follower.subscribe(
    { query: `subscription($id: ID!) { messageStream(messageId: $id) { sequenceNumber } }`, variables: { id } },
    { next: (r) => void delivered.push((r.data as any).messageStream.sequenceNumber), error: () => {}, complete: () => {} },
  );
  // Some of the reply stored (the runner writes it every 250 ms), the rest still to come.
  const before = await waitForMessage((q, v) => gql(first.url, q, v), id, (node) => node.content.length > 0, 'to have stored text', 20_000);
  expect(before.status).toBe('STREAMING');
  await new Promise((r) => setTimeout(r, 150)); // a delta or two beyond the stored text
  first.process.kill('SIGKILL');
  await new Promise((r) => first.process.once('exit', r));

  const second = await startServer();
  // Recovered in the background as the second server serves: at once here, where it is one reply.
  const after = await waitForMessage((q, v) => gql(second.url, q, v), id, (node) => node.status !== 'STREAMING', 'to be recovered', 10_000);
  expect(after.status).toBe('INTERRUPTED');
  expect(after.content.length).toBeGreaterThanOrEqual(before.content.length);
  expect(after.content.length).toBeGreaterThan(0);
  expect(longText.startsWith(after.content)).toBe(true);

  // Its stream, long after: the terminal event alone, carrying the whole message.
  const client = createClient({ url: second.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${viewer.token}` } });
  const events: any[] = [];
  await new Promise<void>((resolve, reject) =>
    client.subscribe(
      { query: `subscription($id: ID!) { messageStream(messageId: $id) { __typename sequenceNumber ... on MessageCompleted { message { status content } } } }`, variables: { id } },
      { next: (r) => events.push(r.data!.messageStream), error: reject, complete: resolve },
    ),
  );
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'INTERRUPTED', content: after.content } });
  expect(events[0].sequenceNumber).toBeGreaterThan(1);

  // The follower resumes after the last number it received: it gets the end, numbered after everything
  // that was ever delivered, though the event log died with the first server.
  const lastDelivered = Math.max(...delivered);
  expect(lastDelivered).toBeGreaterThan(0);
  const resumed: any[] = [];
  await new Promise<void>((resolve, reject) =>
    client.subscribe(
      { query: `subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSequenceNumber: $after) { __typename sequenceNumber ... on MessageCompleted { message { status content } } } }`, variables: { id, after: lastDelivered } },
      { next: (r) => resumed.push(r.data!.messageStream), error: reject, complete: resolve },
    ),
  );
  expect(resumed).toHaveLength(1);
  expect(resumed[0]).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'INTERRUPTED', content: after.content } });
  expect(resumed[0].sequenceNumber).toBeGreaterThan(lastDelivered);
  expect(resumed[0].sequenceNumber).toBe(events[0].sequenceNumber);
  await follower.dispose();

  await client.dispose();
  second.process.kill('SIGTERM');
  expect(await new Promise((r) => second.process.once('exit', r))).toBe(0);
}, 60_000);
