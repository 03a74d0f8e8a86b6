// What the server keeps of a client's text, bounded whatever the client sends: a document's length, the
// parsed documents cached by their text, and the requests of a viewer's open subscriptions.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, startTestApp, subscribe, waitFor, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { MAX_DOCUMENT_CHARS } from '../src/input-guard.ts';
import { CACHED_DOCUMENT_CHARS, parserCaches } from '../src/parser-caches.ts';
import { parse } from 'graphql';

let t: TestApp;
let server: RunningServer;
let viewer: TestViewer;
beforeAll(async () => {
  t = await startTestApp({ SUBSCRIPTION_CHARS_PER_USER: '50000', RATE_LIMIT_REQUESTS_PER_MINUTE: '100000' });
  server = await t.listen();
  viewer = await t.viewer();
});
afterAll(() => t.close());

describe('a document', () => {
  const long = `query Q${'x'.repeat(MAX_DOCUMENT_CHARS)} { conversations(first: 1) { totalCount } }`;

  it(`longer than ${MAX_DOCUMENT_CHARS} characters is refused before it is parsed, over HTTP and WebSocket`, async () => {
    const { body } = await t.request(long, {}, viewer);
    expect(body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: `The document is longer than ${MAX_DOCUMENT_CHARS} characters` });
    const client = wsClient(server, viewer);
    const subscription = subscribe(client, long.replace('query', 'subscription').replace('conversations(first: 1) { totalCount }', 'conversationsChanged { type }'));
    await subscription.all();
    expect((subscription.error as { extensions?: { code?: string } }[])?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    await client.dispose();
  });

  it('of the most tokens, sent ever new, is not kept without bound (a parsed one holds some 100 bytes a character)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // 4,990 names of unknown fields, some 38,000 characters: parsed (and cached), then refused by validation.
    const document = (n: number) => `{ ${Array.from({ length: 4_990 }, (_, i) => `f${n}_${i}`).join(' ')} }`;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let n = 0; n < 60; n++) {
      const { body } = await t.request(document(n), {}, viewer);
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Kept whole, the 60 documents and their validation results held some 260 MB.
    expect(grown).toBeLessThan(100 * 1024 * 1024);
  }, 120_000);

  it("is cached by its text's length: a text over 16 Ki characters is never kept, so ever-new large ones push no app document out", () => {
    const { documentCache } = parserCaches();
    const appDocument = '{ conversations(first: 20) { edges { node { id title } } } }';
    documentCache.set(appDocument, parse(appDocument));
    const large = (n: number, chars: number) => `{ f${n} ${'x '.repeat(chars / 2)}}`.slice(0, chars - 1) + '}';
    for (let n = 0; n < (2 * CACHED_DOCUMENT_CHARS) / (16 * 1024); n++) documentCache.set(large(n, 16 * 1024 + 1), { kind: 'Document' } as never);
    expect(documentCache.get(large(0, 16 * 1024 + 1))).toBeUndefined();
    expect(documentCache.get(appDocument)).toBeDefined();
    // Texts of 16 Ki are kept, up to CACHED_DOCUMENT_CHARS in all: the oldest go first.
    for (let n = 0; n < CACHED_DOCUMENT_CHARS / (16 * 1024); n++) documentCache.set(large(n, 16 * 1024), { kind: 'Document' } as never);
    expect(documentCache.get(large(CACHED_DOCUMENT_CHARS / (16 * 1024) - 1, 16 * 1024))).toBeDefined();
    expect(documentCache.get(appDocument)).toBeUndefined();
  });
});

describe("a viewer's open subscriptions", () => {
  const EVENTS = `subscription($id: ID!) { conversationEvents(conversationId: $id) { type } }`;
  const openSubscriptions = async () => Number(/^graphql_subscriptions (\d+)$/m.exec(await t.app.services.metrics.registry.metrics())?.[1]);

  it('over SSE, one whose client is gone before its events are read ends, and gives its shares back', async () => {
    // (With a Node response, one whose client left while it was set up is never written; this response is never read.)
    const own = await t.viewer();
    const { id } = await createConversation(t, own);
    const open = await openSubscriptions();
    const controller = new AbortController();
    const response = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${own.token}` },
      body: JSON.stringify({ query: EVENTS, variables: { id, pad: 'p'.repeat(40_000) } }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(await openSubscriptions()).toBe(open + 1);
    controller.abort();
    await waitFor(async () => (await openSubscriptions()) === open, 'the subscription to end');
    // Its share of SUBSCRIPTION_CHARS_PER_USER (50,000) is free again: another as large is taken.
    const client = wsClient(server, own);
    subscribe(client, EVENTS, { id, pad: 'p'.repeat(40_000) });
    await waitFor(async () => (await openSubscriptions()) === open + 1, 'another as large open');
    await client.dispose();
    await waitFor(async () => (await openSubscriptions()) === open, 'it closed');
  });

  it('over SSE, one whose client is gone while it is set up ends as well, its response never read', async () => {
    const own = await t.viewer();
    const { id } = await createConversation(t, own);
    const open = await openSubscriptions();
    // Cut at once and a little later: before the subscription is counted, while it is set up, after.
    for (const delayMs of [0, 0, 1, 1, 2, 3, 5]) {
      const controller = new AbortController();
      const response = Promise.resolve(
        t.app.yoga.fetch('http://localhost/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${own.token}` },
          body: JSON.stringify({ query: EVENTS, variables: { id } }),
          signal: controller.signal,
        }),
      );
      setTimeout(() => controller.abort(), delayMs);
      await response.catch(() => null);
    }
    await waitFor(async () => (await openSubscriptions()) === open, 'every cut subscription to end');
  });

  it('count a document by what its parsed form keeps too: each token as 64 characters', async () => {
    const own = await t.viewer();
    // Some 6,000 characters of text, 1,000 tokens: what its parsed form keeps passes the 50,000 of the share.
    const dense = `subscription { conversationsChanged { conversation { messages(first: 1, roles: [${'USER, '.repeat(1_000)}]) { totalCount } } } }`;
    expect(dense.length).toBeLessThan(7_000);
    const client = wsClient(server, own);
    const subscription = subscribe(client, dense);
    await subscription.all();
    const errors = [...subscription.results.flatMap((r) => r.errors ?? []), ...((subscription.error as unknown[]) ?? [])] as { message: string }[];
    expect(errors[0]?.message).toContain('more than the 50000 allowed');
    await client.dispose();
  });

  it('keep at most SUBSCRIPTION_CHARS_PER_USER characters of their requests between them (undeclared variables too); a closed one frees its share', async () => {
    const own = await t.viewer();
    const other = await t.viewer();
    const { id } = await createConversation(t, own);
    const padded = { id, pad: 'p'.repeat(20_000) }; // not a variable of the operation: kept all the same
    const client = wsClient(server, own);
    const open = await openSubscriptions();
    const first = subscribe(client, EVENTS, padded);
    const second = subscribe(client, EVENTS, padded);
    await waitFor(async () => (await openSubscriptions()) === open + 2, 'two subscriptions open');
    const [refused] = await subscribe(client, EVENTS, padded).next(1);
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' }, message: expect.stringContaining('more than the 50000 allowed') });
    // Over SSE too, answered 429 before the stream starts.
    const overSse = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${own.token}` },
      body: JSON.stringify({ query: EVENTS, variables: padded }),
    });
    expect(overSse.status).toBe(429);
    await overSse.text();
    // Another viewer has a share of its own; a small subscription still fits; a closed one frees its share.
    const theirs = wsClient(server, other);
    const theirId = (await createConversation(t, other)).id;
    subscribe(theirs, EVENTS, { id: theirId, pad: 'p'.repeat(20_000) });
    subscribe(client, EVENTS, { id });
    await waitFor(async () => (await openSubscriptions()) === open + 4, 'two more open');
    expect([first.completed, second.completed]).toEqual([false, false]);
    first.dispose();
    await waitFor(async () => (await openSubscriptions()) === open + 3, 'one closed');
    subscribe(client, EVENTS, padded);
    await waitFor(async () => (await openSubscriptions()) === open + 4, 'its place taken again');
    await Promise.all([client.dispose(), theirs.dispose()]);
  });
});
