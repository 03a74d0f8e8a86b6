// Clients that do not read what they are sent. Node holds every unsent byte, so such a client could grow the
// server past its heap: with large responses on sockets it never reads, or with pings, each answered.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createConversation, startTestApp, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { MAX_JSON_VALUES } from '../src/input-guard.ts';

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
  expect(await closing).toEqual([4400, 'The message is nested more than 128 levels deep']);
});

it('closes a socket on a message of more values than any input holds, before it is parsed', async () => {
  const { socket } = await graphqlSocket(true);
  const closing = new Promise<[number, string]>((resolve) => socket.once('close', (code, reason) => resolve([code, String(reason)])));
  const keys = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])); // 1.3 MB
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }', variables: { x: keys } } }));
  expect(await closing).toEqual([4400, `The message holds more than ${MAX_JSON_VALUES} values`]);
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

describe('a connection cut for not reading gives back what its subscriptions held', () => {
  // Two connections a viewer, and a subscription cost enough for two of the subscriptions below (4 fields each, counted as 50).
  let limited: TestApp;
  let limitedServer: RunningServer;
  const SUBSCRIPTION = `subscription { conversationsChanged { conversation { id title } } }`;
  beforeAll(async () => {
    limited = await startTestApp({ MAX_UNSENT_MB: '4', WS_MAX_SOCKETS_PER_USER: '2', SUBSCRIPTION_COST_PER_USER: '100', RATE_LIMIT_REQUESTS_PER_MINUTE: '500' });
    limitedServer = await limited.listen();
  });
  afterAll(() => limited.close());

  /** A viewer, and a query for a page of theirs of 300 KB. */
  async function viewerWithPage(): Promise<{ viewer: TestViewer; page: string }> {
    const viewer = await limited.viewer();
    const c = await createConversation(limited, viewer);
    const append = [0, 1, 2].map((i) => `m${i}: appendMessage(input: { conversationId: $c, role: USER, content: $t, tokens: 1 }) { message { id } }`);
    await limited.gql(`mutation($c: ID!, $t: String!) { ${append.join(' ')} }`, { c: c.id, t: 'a'.repeat(100_000) }, viewer);
    return { viewer, page: `query { conversation(id: "${c.id}") { messages(first: 3) { edges { node { content } } } } }` };
  }

  /** A graphql-ws socket of `viewer`, past connection_init; its messages collected. */
  async function graphqlSocketOf(viewer: TestViewer) {
    const socket = new WebSocket(limitedServer.url.replace('http', 'ws'), 'graphql-transport-ws');
    const messages: Message[] = [];
    socket.on('message', (raw) => messages.push(JSON.parse(String(raw))));
    const closeCode = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${viewer.token}` } }));
    await Promise.race([new Promise((resolve) => socket.once('message', resolve)), closeCode]);
    const subscribe = (id: string, query: string) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
    return { socket, messages, closeCode, subscribe };
  }

  /** Whether `condition` holds within 5 s. */
  async function soon(condition: () => boolean): Promise<boolean> {
    for (let i = 0; i < 250 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    return condition();
  }
  // A refused subscription comes as a result with errors (then `complete`), a refused document as `error`.
  type Message = { id?: string; type: string; payload?: { errors?: GraphQLError[] } | GraphQLError[] };
  type GraphQLError = { extensions?: { code?: string } };
  const errorCode = (messages: Message[], id: string) => {
    const payload = messages.find((m) => m.id === id && (m.type === 'error' || m.type === 'next'))?.payload;
    return (Array.isArray(payload) ? payload : payload?.errors)?.[0]?.extensions?.code;
  };
  const acknowledged = (messages: Message[], id: string) => messages.some((m) => m.id === id);

  it('over a WebSocket: its place among the viewer\'s sockets, and its subscription\'s cost', async () => {
    const { viewer, page } = await viewerWithPage();
    const reader = await graphqlSocketOf(viewer);
    reader.subscribe('s1', SUBSCRIPTION);
    reader.subscribe('s2', SUBSCRIPTION);
    // A subscription that is taken sends nothing until an event: a query after them on the same socket shows they were.
    reader.subscribe('q', `{ viewer { userId } }`);
    expect(await soon(() => acknowledged(reader.messages, 'q'))).toBe(true);
    expect(errorCode(reader.messages, 's2')).toBeUndefined();
    const other = await graphqlSocketOf(viewer);
    other.subscribe('s', SUBSCRIPTION);
    // While the first socket holds its place and its cost, a third subscription is past the viewer's cost, and a third socket past its sockets.
    expect(await soon(() => acknowledged(other.messages, 's'))).toBe(true);
    expect(errorCode(other.messages, 's')).toBe('RATE_LIMITED');
    expect(await (await graphqlSocketOf(viewer)).closeCode).toBe(4429);

    // The first socket asks for 40 pages (12 MB, past MAX_UNSENT_MB) and reads nothing for a while: it is cut.
    const raw = (reader.socket as unknown as { _socket: net.Socket })._socket;
    const logged = vi.spyOn(console, 'error');
    raw.pause();
    for (let i = 0; i < 40; i++) reader.subscribe(`p${i}`, page);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    raw.resume();
    await reader.closeCode;
    await new Promise((resolve) => setTimeout(resolve, 500)); // the last of its writes have failed by now
    // The results it was not sent are no internal errors (graphql-ws logged one for each).
    expect(logged).not.toHaveBeenCalled();
    logged.mockRestore();

    // What it held is given back: the subscriptions are taken, and another socket too.
    other.subscribe('s1', SUBSCRIPTION);
    other.subscribe('s2', SUBSCRIPTION);
    other.subscribe('q', `{ viewer { userId } }`);
    expect(await soon(() => acknowledged(other.messages, 'q'))).toBe(true);
    expect([errorCode(other.messages, 's1'), errorCode(other.messages, 's2')]).toEqual([undefined, undefined]);
    const third = await graphqlSocketOf(viewer);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(third.socket.readyState).toBe(WebSocket.OPEN);
    other.socket.close();
    third.socket.close();
  }, 30_000);

  it('over SSE: its place among the viewer\'s connections', async () => {
    const { viewer, page } = await viewerWithPage();
    const sse = (query: string) =>
      fetch(limitedServer.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${viewer.token}` }, body: JSON.stringify({ query }) });
    // A subscription over SSE, and behind it on the same connection 40 pages pipelined, none read.
    const request = (body: string, accept: string) =>
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: ${accept}\r\nAuthorization: Bearer ${viewer.token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const socket = net.connect(Number(new URL(limitedServer.url).port), '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(request(JSON.stringify({ query: SUBSCRIPTION }), 'text/event-stream'));
    const held = await sse(SUBSCRIPTION); // the viewer's second connection, and second subscription
    expect(held.status).toBe(200);
    expect((await sse(SUBSCRIPTION)).status).toBe(429); // a third is refused

    socket.pause();
    socket.write(request(JSON.stringify({ query: page }), 'application/json').repeat(40));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const cut = closed(socket);
    socket.resume();
    await cut;

    // The place and the cost the cut subscription held are given back.
    const again = await sse(SUBSCRIPTION);
    expect(again.status).toBe(200);
    await again.body?.cancel();
    await held.body?.cancel();
  }, 30_000);
});
