// Clients that do not read what they are sent. Node holds every unsent byte, so such a client could grow the
// server past its heap: with large responses on sockets it never reads, or with pings, each answered.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createConversation, startTestApp, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let t: TestApp;
let server: RunningServer;
let viewer: TestViewer;
beforeAll(async () => {
  // What all connections may hold unsent: less than the pages below.
  t = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '200', MAX_UNSENT_MB: '4', MAX_CONNECTIONS: '30' });
  server = await t.listen();
  viewer = await t.viewer();
});
afterAll(() => t.close());

const closed = (socket: net.Socket | WebSocket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

it('cuts the connections furthest behind while all together hold more unsent bytes than allowed, and serves the others', async () => {
  // Pages of 7,500,000 bytes, each under the response's limit.
  const c = await createConversation(t, viewer);
  const content = 'a'.repeat(100_000);
  const append = `mutation($c: ID!, $t: String!) { ${Array.from({ length: 10 }, (_, i) => `m${i}: appendMessage(input: { conversationId: $c, role: USER, content: $t, tokens: 1 }) { message { id } }`).join(' ')} }`;
  for (let i = 0; i < 8; i++) await t.gql(append, { c: c.id, t: content }, viewer);
  const body = JSON.stringify({ query: `query($id: ID!) { conversation(id: $id) { messages(first: 75) { edges { node { content } } } } }`, variables: { id: c.id } });
  const { port } = new URL(server.url);
  const request = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${viewer.token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

  // One client reads its page: a page that large is served.
  const page = await t.request(JSON.parse(body).query, { id: c.id }, viewer);
  expect(page.body.data.conversation.messages.edges).toHaveLength(75);

  // Another asks for one on each of six connections, and reads nothing for a while.
  const stalled = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.pause();
      socket.write(request);
      return socket;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 4000));
  // When it reads again, the connections furthest behind were cut short of their page.
  const received = await Promise.all(
    stalled.map((socket) => {
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      const done = new Promise<number>((resolve) => {
        socket.once('close', () => resolve(bytes));
        setTimeout(() => resolve(bytes), 3000); // a whole page, and the connection kept
      });
      socket.resume();
      return done;
    }),
  );
  expect(received.filter((bytes) => bytes < 7_500_000).length).toBeGreaterThan(0);
  for (const socket of stalled) socket.destroy();

  const other = await t.viewer();
  expect((await t.gql(`{ viewer { userId } }`, {}, other)).viewer.userId).toBe(other.userId);
}, 60_000);

it('counts the responses a client pipelined, which wait in their own buffers, as its connection\'s', async () => {
  const c = await createConversation(t, viewer);
  await t.gql(`mutation($c: ID!, $t: String!) { ${[0, 1, 2].map((i) => `m${i}: appendMessage(input: { conversationId: $c, role: USER, content: $t, tokens: 1 }) { message { id } }`).join(' ')} }`, { c: c.id, t: 'a'.repeat(100_000) }, viewer);
  const body = JSON.stringify({ query: `query($id: ID!) { conversation(id: $id) { messages(first: 3) { edges { node { content } } } } }`, variables: { id: c.id } });
  const request = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${viewer.token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  // Forty pages of 300 KB asked for in one write (12 MB, more than MAX_UNSENT_MB), none read for a while.
  const socket = await connection();
  socket.pause();
  socket.write(request.repeat(40));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  const cut = closed(socket);
  socket.resume();
  await cut;
  expect(received).toBeLessThan(40 * 300_000);
}, 30_000);

/** A graphql-ws socket, acknowledged when `init`. */
async function graphqlSocket(init: boolean): Promise<{ socket: WebSocket; closeCode: Promise<number> }> {
  const socket = new WebSocket(server.url.replace('http', 'ws'), 'graphql-transport-ws');
  const closeCode = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise((resolve) => socket.once('open', resolve));
  if (init) {
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${viewer.token}` } }));
    await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
  }
  return { socket, closeCode };
}

it('counts pings against the rate limit, so that a flood of them is closed rather than answered forever', async () => {
  const { socket, closeCode } = await graphqlSocket(true);
  const raw = (socket as unknown as { _socket: net.Socket })._socket;
  raw.pause(); // reads nothing for a while
  let pongs = 0;
  socket.on('message', () => pongs++);
  for (let i = 0; i < 400; i++) socket.send('{"type":"ping"}');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  raw.resume();
  expect(await closeCode).toBe(4429);
  expect(pongs).toBeLessThanOrEqual(200); // the viewer's requests a minute
});

it('counts an operation over a WebSocket before parsing it: past the limit, unparsable documents are refused as such', async () => {
  const other = await t.viewer();
  const socket = new WebSocket(server.url.replace('http', 'ws'), 'graphql-transport-ws');
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${other.token}` } }));
  await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
  const codes: string[] = [];
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw));
    if (message.type === 'error') codes.push(message.payload[0].extensions.code);
  });
  // In rounds of 50, under the socket's 100 subscriptions at once.
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 50; i++) socket.send(JSON.stringify({ id: `${round}-${i}`, type: 'subscribe', payload: { query: `{ nope(${'['.repeat(i % 5)}` } }));
    await new Promise<void>((resolve) => {
      const check = setInterval(() => codes.length === (round + 1) * 50 && (clearInterval(check), resolve()), 20);
    });
  }
  expect(codes.filter((code) => code === 'BAD_USER_INPUT')).toHaveLength(200); // RATE_LIMIT_REQUESTS_PER_MINUTE
  expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(50);
  socket.close();
});

it('closes a socket on a message nested deeper than any input, before it is parsed', async () => {
  const { socket } = await graphqlSocket(true);
  const closing = new Promise<[number, string]>((resolve) => socket.once('close', (code, reason) => resolve([code, String(reason)])));
  socket.send(`{"id":"1","type":"subscribe","payload":{"query":"{ __typename }","variables":{"x":${'['.repeat(300_000)}${']'.repeat(300_000)}}}}`);
  expect(await closing).toEqual([4400, 'Messages may be nested at most 128 levels deep']);
});

it('closes a socket on a message larger than a connection_init before it is authenticated', async () => {
  const { socket } = await graphqlSocket(false);
  const closing = new Promise<[number, string]>((resolve) => socket.once('close', (code, reason) => resolve([code, String(reason)])));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${viewer.token}`, padding: 'x'.repeat(20_000) } }));
  expect(await closing).toEqual([4400, 'Messages before authentication may be at most 16384 bytes']);
  // A connection_init of the usual size is taken.
  expect((await graphqlSocket(true)).socket.readyState).toBe(WebSocket.OPEN);
});

it('answers no ping before connection_init', async () => {
  const { socket, closeCode } = await graphqlSocket(false);
  socket.send('{"type":"ping"}');
  expect(await closeCode).toBe(4401);
});

/** A raw connection to the server. */
async function connection(): Promise<net.Socket> {
  const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

it('closes a connection that trickles its headers', async () => {
  const socket = await connection();
  const started = Date.now();
  const cut = closed(socket);
  socket.write('POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  const trickle = setInterval(() => socket.write('X-A: b\r\n'), 1000);
  await cut;
  clearInterval(trickle);
  expect(Date.now() - started).toBeLessThan(15_000); // headers within 10 s, checked every second
}, 30_000);

it('holds at most MAX_CONNECTIONS connections, and serves again once they close', async () => {
  const open = await Promise.all(Array.from({ length: 30 }, connection));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const extra = await connection();
  await closed(extra); // closed at once by the server
  for (const socket of open) socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect((await fetch(server.url.replace('/graphql', '/health'))).status).toBe(200);
});
