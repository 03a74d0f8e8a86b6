// What one operation may cost is counted with its variables: a page size given as a variable costs what the
// same number written in the document does, over HTTP, over a WebSocket and in a subscription. (graphql-armor's
// count saw only literals: `messages(first: $n)` nested under itself went through at any size and held the
// server for seconds.) The web app's own operations stay far below the limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, execute, parse, subscribe as graphqlSubscribe, validate, type DocumentNode } from 'graphql';
import { envelop, useEngine, useSchema } from '@envelop/core';
import { schema } from '../src/schema/index.ts';
import { MAX_OPERATION_COST, MIN_SUBSCRIPTION_COST, operationCost, useOperationCost } from '../src/operation-cost.ts';
import { FIELDS_PER_REQUEST, SubscriptionCosts } from '../src/connection-limits.ts';
import { createRateLimiter } from '../src/rate-limit.ts';
import { pino } from 'pino';
import type { Viewer } from '../src/auth.ts';
import * as webOperations from '../web/src/gql/graphql.ts';
import { appendMessage, createConversation, startTestApp, subscribe, waitFor, wsClient, type TestApp, type TestViewer } from './helpers.ts';

let t: TestApp;
let viewer: TestViewer;
let conversationId: string;
beforeAll(async () => {
  t = await startTestApp();
  viewer = await t.viewer();
  conversationId = (await createConversation(t, viewer)).id;
  for (let i = 0; i < 3; i++) await appendMessage(t, viewer, conversationId, { content: `message ${i}` });
});
afterAll(() => t.close());

/** Every message's conversation's messages, `size` a page: size × size messages. */
const nested = (size: string) => `
  conversation(id: $id) { messages(first: ${size}) { edges { node { conversation { messages(first: ${size}) { edges { node { id content } } } } } } } }`;
const WITH_VARIABLE = `query($id: ID!, $n: Int) { ${nested('$n')} }`;
const withLiteral = (n: number) => `query($id: ID!) { ${nested(String(n))} }`;

// Each fragment spreads the next twice: 2^20 spreads of the last one, in a few hundred tokens.
const FRAGMENT_BOMB = [
  `query($id: ID!) { conversation(id: $id) { messages(first: 1) { edges { node { ...F0 } } } } }`,
  ...Array.from({ length: 20 }, (_, i) => `fragment F${i} on Message { id ${i < 19 ? `...F${i + 1} ...F${i + 1}` : ''} }`),
].join('\n');

const costOf = (query: string, variables: Record<string, unknown> = {}) => operationCost(schema, parse(query), variables);

describe('the count', () => {
  it('counts a page size in a variable as the same number written in the document', () => {
    for (const n of [0, 7, 100]) expect(costOf(WITH_VARIABLE, { id: 'x', n })).toBe(costOf(withLiteral(n), { id: 'x' }));
    expect(costOf(WITH_VARIABLE, { id: 'x', n: 100 })).toBeGreaterThan(MAX_OPERATION_COST);
  });

  it("counts an omitted page size as the field's default, and nodes(ids:) by its IDs", () => {
    const omitted = `query($id: ID!) { conversation(id: $id) { messages { edges { node { id } } } } }`;
    const fifty = `query($id: ID!) { conversation(id: $id) { messages(first: 50) { edges { node { id } } } } }`;
    expect(costOf(omitted, { id: 'x' })).toBe(costOf(fifty, { id: 'x' }));
    const nodes = `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`;
    expect(costOf(nodes, { ids: Array(40).fill('x') })).toBe(1 + 40 * 1);
    // Larger pages and lists are refused by their fields before anything below them runs.
    expect(costOf(WITH_VARIABLE, { id: 'x', n: 1_000_000 })).toBe(costOf(withLiteral(100), { id: 'x' }));
  });

  it("leaves the web app's operations far below the limit, with its largest pages", () => {
    const documents = Object.entries(webOperations).filter(([name]) => name.endsWith('Document')) as [string, DocumentNode][];
    expect(documents.length).toBeGreaterThan(10);
    const common = { first: 100, id: 'x', content: 'x', messageId: 'x', conversationId: 'x', results: [{ toolCallId: 'x', content: 'x' }] };
    const inputs: Record<string, Record<string, unknown>> = {
      CreateConversationDocument: { title: 'x' },
      SendMessageDocument: { conversationId: 'x', content: 'x' },
      UpdateConversationDocument: { id: 'x', title: 'x' },
    };
    for (const [name, document] of documents) {
      expect(operationCost(schema, document, { ...common, input: inputs[name] ?? {} }), name).toBeLessThan(MAX_OPERATION_COST / 5);
    }
  });
});

describe('a request over the limit', () => {
  it('is refused over HTTP with BAD_USER_INPUT before anything runs, whether its page size is a variable or not', async () => {
    const asVariable = await t.request(WITH_VARIABLE, { id: conversationId, n: 100 }, viewer);
    const asLiteral = await t.request(withLiteral(100), { id: conversationId }, viewer);
    for (const { body } of [asVariable, asLiteral]) {
      expect(body.data).toBeUndefined();
      expect(body.errors).toHaveLength(1);
      expect(body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(body.errors![0].message).toContain(`more than the ${MAX_OPERATION_COST}`);
    }
    const small = await t.gql(WITH_VARIABLE, { id: conversationId, n: 10 }, viewer);
    expect(small.conversation.messages.edges).toHaveLength(3);
    expect(small.conversation.messages.edges[0].node.conversation.messages.edges).toHaveLength(3);
  });

  it('still gets the executor’s error for a variable of the wrong type', async () => {
    const { body } = await t.request(WITH_VARIABLE, { id: conversationId, n: 1.5 }, viewer);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toContain('Int cannot represent non-integer value: 1.5');
  });

  it('is refused as a subscription over a WebSocket, which stays open for the next one', async () => {
    const server = await t.listen();
    const client = wsClient(server, viewer);
    const tooMuch = subscribe(client, `subscription($n: Int) { conversationsChanged { conversation { messages(first: $n) { edges { node { conversation { messages(first: $n) { edges { node { id } } } } } } } } } }`, { n: 100 });
    const [refused] = await tooMuch.next(1);
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toContain(`more than the ${MAX_OPERATION_COST}`);
    const query = subscribe(client, WITH_VARIABLE.replace('query', 'query Small'), { id: conversationId, n: 5 });
    const [answered] = await query.next(1);
    expect(answered.data?.conversation.messages.edges).toHaveLength(3);
    await client.dispose();
  });

  it('is refused when its fragments, spread within each other, would take too long to count', async () => {
    expect(() => costOf(FRAGMENT_BOMB, { id: 'x' })).toThrow(/maximum allowed number of nodes/);
    const { body } = await t.request(FRAGMENT_BOMB, { id: conversationId }, viewer);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.data).toBeUndefined();
  });
});

describe('what a response may carry, counted as it resolves', () => {
  it("refuses the pages past 25,000 items below a context window, whose length is known only once it is read", async () => {
    const c = await createConversation(t, viewer);
    const append = `mutation($c: ID!) { ${Array.from({ length: 10 }, (_, i) => `m${i}: appendMessage(input: { conversationId: $c, role: USER, content: "a" }) { message { id } }`).join(' ')} }`;
    for (let i = 0; i < 30; i++) await t.gql(append, { c: c.id }, viewer);
    // Counted before it runs as one window message with its page: 300 messages with a page of 100 each.
    const query = `query($id: ID!) { conversation(id: $id) { contextWindow(maxTokens: 100000) { id conversation { messages(first: 100) { edges { node { id } } } } } } }`;
    expect(costOf(query, { id: 'x' })).toBeLessThan(1_000);
    const fine = await t.gql(query.replace('first: 100', 'first: 50'), { id: c.id }, viewer); // 300 + 300 × 50 items
    expect(fine.conversation.contextWindow).toHaveLength(300);
    const { body } = await t.request(query, { id: c.id }, viewer);
    // A page is not nullable, nor the window's messages: the refusal takes the conversation with it.
    expect(body.data?.conversation).toBeNull();
    expect(body.errors!.length).toBeGreaterThan(0);
    expect(body.errors!.every((e) => e.extensions?.code === 'BAD_USER_INPUT' && e.message.includes('more than 25000 items of lists'))).toBe(true);
    // No page below, but many fields for each message: 300 × 89 fields, counted before it ran as 90.
    const FIELDS = 'id content role status position tokens createdAt siblingIndex isError toolCallId model finishReason completedAt reasoning';
    const deep = `query($id: ID!) { conversation(id: $id) { contextWindow(maxTokens: 100000) { ...M parent { ...M parent { ...M parent { ...M parent { ...M parent { ...M } } } } } } } }
      fragment M on Message { ${FIELDS} }`;
    expect(costOf(deep, { id: 'x' })).toBeLessThan(200);
    const refused = await t.request(deep, { id: c.id }, viewer);
    expect(refused.body.data?.conversation).toBeNull();
    expect(refused.body.errors?.[0]?.message).toContain('contextWindow: this response would hold more than 25000 items of lists');
    const window = await t.gql(deep.replace('...M parent { ...M parent { ...M parent { ...M } } }', '...M'), { id: c.id }, viewer); // 300 × 44
    expect(window.conversation.contextWindow).toHaveLength(300);
  }, 60_000);

  it.each([
    ['a system prompt', `conversation { systemPrompt }`],
    ['metadata', `metadata`],
  ])('counts %s as the text it is: repeated past 8,000,000 bytes, it is refused', async (_name, field) => {
    const c = await createConversation(t, viewer, { systemPrompt: 'p'.repeat(99_000) });
    const metadata = { notes: 'm'.repeat(16_000) };
    const append = `mutation($c: ID!, $m: JSON) { ${Array.from({ length: 10 }, (_, i) => `m${i}: appendMessage(input: { conversationId: $c, role: USER, content: "a", metadata: $m }) { message { id } }`).join(' ')} }`;
    for (let i = 0; i < 10; i++) await t.gql(append, { c: c.id, m: metadata }, viewer);
    // 50 × 50 × 16,000 characters of metadata, or of 99,000 of the system prompt, from one stored copy each.
    const query = `query($id: ID!) { conversation(id: $id) { messages(first: 50) { edges { node { conversation { messages(first: 50) { edges { node { id ${field} } } } } } } } } }`;
    const { body } = await t.request(query, { id: c.id }, viewer);
    expect(body.errors!.length).toBeGreaterThan(0);
    expect(body.errors!.every((e) => e.extensions?.code === 'BAD_USER_INPUT' && e.message.includes('more than 8000000 bytes'))).toBe(true);
    expect(JSON.stringify(body).length).toBeLessThan(20_000_000);
  }, 60_000);
});

describe('lists of enum values in filters', () => {
  it('keeps each value once and refuses a list longer than the enum', async () => {
    const roles = (r: string[]) => t.request(`query($id: ID!, $r: [MessageRole!]) { conversation(id: $id) { messages(roles: $r) { totalCount } } }`, { id: conversationId, r }, viewer);
    const once = await roles(['USER']);
    const twice = await roles(['USER', 'USER', 'USER']);
    expect(twice.body).toEqual(once.body);
    expect(once.body.data.conversation.messages.totalCount).toBe(3);
    const tooMany = await roles(Array(10_000).fill('USER'));
    expect(tooMany.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(tooMany.body.errors?.[0]?.message).toContain('roles: must list at most 4 values, each once');
    const statuses = await t.request(`query($s: [ConversationStatus!]) { conversations(filter: { status: $s }) { totalCount } }`, { s: Array(1_000).fill('ACTIVE') }, viewer);
    expect(statuses.body.errors?.[0]?.message).toContain('filter.status: must list at most 3 values, each once');
  });
});


describe('totals counted row by row', () => {
  const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `c${i}: ${field}`).join(' ');
  it(`are at most ${10} per response, of any list; a branch's length is not one`, async () => {
    const counts = (n: number) =>
      t.request(`query($id: ID!) { conversation(id: $id) { ${aliases(n, 'messages(roles: [USER]) { totalCount }')} } }`, { id: conversationId }, viewer);
    expect(Object.values((await counts(10)).body.data.conversation)).toEqual(Array(10).fill({ totalCount: 3 }));
    const refused = (await counts(11)).body;
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toContain('at most 10 lists');
    // Any list's count takes one: conversations, chat sessions, their messages.
    const mixed = await t.request(
      `query($id: ID!) { ${aliases(6, 'conversations { totalCount }')} conversation(id: $id) { chatSessions { totalCount edges { node { messages { totalCount } } } } ${aliases(4, 'messages(roles: [USER]) { totalCount }')} } }`,
      { id: conversationId },
      viewer,
    );
    expect(mixed.body.errors?.[0]?.message).toContain('at most 10 lists');
    // A branch's length needs no count: thirty of them are answered.
    const lengths = await t.request(`query($id: ID!) { conversation(id: $id) { ${aliases(30, 'messages { totalCount }')} } }`, { id: conversationId }, viewer);
    expect(lengths.body.errors).toBeUndefined();
  });

  it("are refused in a subscription's events, which would count again each time", async () => {
    const server = await t.listen();
    const socket = wsClient(server, viewer);
    const sidebar = subscribe(socket, `subscription { conversationsChanged { conversation { title messages(roles: [USER]) { totalCount } } } }`);
    await waitFor(async () => {
      if (sidebar.results.length === 0) await appendMessage(t, viewer, conversationId, { content: 'counted' });
      return sidebar.results.length > 0;
    }, 'an event');
    expect(sidebar.results[0].errors?.[0]?.message).toContain('not available in subscription events');
    await socket.dispose();
  });
});

describe("a viewer's open subscriptions", () => {
  const SUBSCRIPTION = `subscription { conversationsChanged { conversation { messages(first: 20) { edges { node { id content } } } } } }`;
  const cost = () => costOf(SUBSCRIPTION);
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ SUBSCRIPTION_COST_PER_USER: String(Math.floor(2.5 * cost())) });
  });
  afterAll(() => limited.close());

  it('may resolve at most SUBSCRIPTION_COST_PER_USER fields per event between them, on any socket; a closed one frees its share', async () => {
    const server = await limited.listen();
    const [one, other] = await Promise.all([limited.viewer(), limited.viewer()]);
    /** A subscription of `viewer`'s, once it has its first result: a refusal, or an event (made until one comes). */
    const opened = async (socket: ReturnType<typeof wsClient>, viewer: TestViewer) => {
      const subscription = subscribe(socket, SUBSCRIPTION);
      await waitFor(async () => {
        if (subscription.results.length === 0) await limited.gql(`mutation { createConversation(input: { title: "x" }) { conversation { id } } }`, {}, viewer);
        return subscription.results.length > 0;
      }, 'a first result');
      return { subscription, refused: subscription.results[0].errors?.[0] };
    };
    const sockets = [wsClient(server, one), wsClient(server, one)];
    const first = await opened(sockets[0], one);
    const second = await opened(sockets[1], one);
    expect([first.refused, second.refused]).toEqual([undefined, undefined]);
    const third = await opened(sockets[1], one);
    expect(third.refused?.extensions?.code).toBe('RATE_LIMITED');
    expect(third.refused?.message).toContain(`counts as ${cost()} fields per event`);
    expect(third.refused?.extensions?.http).toBeUndefined(); // an HTTP status means nothing on a WebSocket
    // Over SSE too, answered 429 before the stream starts.
    const overSse = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${one.token}` },
      body: JSON.stringify({ query: SUBSCRIPTION }),
    });
    expect(overSse.status).toBe(429);
    expect(await overSse.text()).toContain('RATE_LIMITED');
    expect(first.subscription.completed || second.subscription.completed).toBe(false);
    // A refused one is not counted as open either (the gauge of open subscriptions).
    const metrics = await limited.app.services.metrics.registry.metrics();
    expect(metrics).toMatch(/^graphql_subscriptions 2$/m);
    // Another viewer has a budget of its own.
    const theirs = wsClient(server, other);
    expect((await opened(theirs, other)).refused).toBeUndefined();
    // A refused chat sends nothing: its resolver, which stores the message, never runs.
    const c = await createConversation(limited, one, { model: 'builtin:echo' });
    const CHAT = `subscription($c: ID!) { chat(input: { conversationId: $c, content: "hi" }) { ... on MessageStarted { message { conversation { messages(first: 20) { edges { node { id content } } } } } } } }`;
    expect(costOf(CHAT, { c: 'x' })).toBeGreaterThan(cost() / 2); // more than the share left
    const chat = subscribe(sockets[1], CHAT, { c: c.id });
    const [chatRefused] = await chat.next(1);
    expect(chatRefused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    const after = await limited.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, one);
    expect(after.conversation.messageCount).toBe(0);
    // Closing one lets another open.
    first.subscription.dispose();
    await waitFor(async () => (await opened(sockets[0], one)).refused === undefined, 'a subscription accepted once another was closed');
    await Promise.all([...sockets, theirs].map((socket) => socket.dispose()));
  });
});

const limiter = (requestsPerMinute: number) =>
  createRateLimiter({ requestsPerMinute, requestBurst: requestsPerMinute, generationsPerMinute: 0, bytesPerDay: 0, streamedBytesPerHour: 0 }, { log: pino({ level: 'silent' }) });
const noLimits = limiter(0);

/** What the minute has left of the viewer's requests: requests until the first refusal (10 at most). */
async function requestsLeft(rateLimiter: ReturnType<typeof limiter>, viewer: Viewer): Promise<number> {
  let left = 0;
  while (left < 10 && (await rateLimiter.request(viewer).then(() => true, () => false))) left++;
  return left;
}

describe("the fields a viewer's subscriptions resolve for events of writes", () => {
  it(`count toward the viewer's requests, a request per ${FIELDS_PER_REQUEST}, what is left over carried while the viewer holds a share`, async () => {
    const rateLimiter = limiter(4);
    const costs = new SubscriptionCosts(10_000, rateLimiter);
    const viewer = { userId: `resolving-${Date.now()}`, orgId: null } as unknown as Viewer;
    expect(costs.hold(viewer, 500)).toBe(true);
    costs.resolved(viewer, 2 * FIELDS_PER_REQUEST + 900); // 2 requests, 900 carried
    costs.resolved(viewer, 100); // 1 more
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await requestsLeft(rateLimiter, viewer)).toBe(1);

    const fresh = { userId: `resolving-fresh-${Date.now()}`, orgId: null } as unknown as Viewer;
    const limit = limiter(3);
    const freshCosts = new SubscriptionCosts(10_000, limit);
    freshCosts.hold(fresh, 500);
    freshCosts.resolved(fresh, 900);
    freshCosts.release(fresh, 500); // nothing held: nothing carried
    freshCosts.hold(fresh, 500);
    freshCosts.resolved(fresh, 200);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await requestsLeft(limit, fresh)).toBe(3);
  });

  it("are those of a conversation's changes, not of a reply's tokens: past the limit the viewer's writes are refused, another viewer's are not", async () => {
    const app = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '60', ECHO_DELAY_MS: '1' });
    try {
      const server = await app.listen();
      const [viewer, other] = await Promise.all([app.viewer(), app.viewer()]);
      const c = await createConversation(app, viewer, { model: 'builtin:echo' });
      const socket = wsClient(server, viewer);
      // A reply of 300 tokens to a subscriber of its stream counts nothing, though the subscription counts as
      // hundreds of fields an event (were its events counted, 300 of them would spend the minute's requests).
      const { sendMessage } = await app.gql(`mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "${'word '.repeat(300)}" }) { assistantMessage { id } } }`, { c: c.id }, viewer);
      const STREAM = `subscription($id: ID!) { messageStream(messageId: $id) { __typename ... on MessageCompleted { message { conversation { messages(last: 100) { edges { node { id content } } } } } } } }`;
      expect(costOf(STREAM, { id: 'x' })).toBeGreaterThan(200);
      expect((await subscribe(socket, STREAM, { id: sendMessage.assistantMessage.id }).all(20_000)).length).toBeGreaterThan(100);
      // Three subscriptions of some 900 fields each to the conversation's changes.
      const EVENTS = `subscription($c: ID!) { conversationEvents(conversationId: $c) { conversation { messages(last: 100) { edges { node { id content role position } } } } } }`;
      expect(costOf(EVENTS, { c: 'x' })).toBeGreaterThan(500);
      const subscriptions = [1, 2, 3].map(() => subscribe(socket, EVENTS, { c: c.id }));
      const append = () => app.request(`mutation($c: ID!) { appendMessage(input: { conversationId: $c, role: USER, content: "x" }) { message { id } } }`, { c: c.id }, viewer);
      // Each listening (its first event) before the appends are counted.
      await waitFor(async () => subscriptions.every((s) => s.results.length > 0) || (await append(), false), 'the subscriptions to listen');
      let appended = 0;
      for (; appended < 60; appended++) {
        const { body } = await append();
        if (body.errors) {
          expect(body.errors[0].extensions?.code).toBe('RATE_LIMITED');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50)); // its events resolved, and counted
      }
      // Some 56 requests were left after the reply; each append spent one, and three events of 500 fields or more.
      expect(appended).toBeGreaterThan(5);
      expect(appended).toBeLessThan(35); // 54 when they were not counted
      await waitFor(() => subscriptions.every((s) => s.results.length > appended), 'the events of every append');
      expect((await app.request(`{ viewer { userId } }`, {}, other)).body.errors).toBeUndefined();
      await socket.dispose();
    } finally {
      await app.close();
    }
  }, 60_000);
});

describe('which subscriptions count their events toward their viewer\'s requests', () => {
  const fields = buildSchema(`type Query { a: Int } type Subscription { tick: Int messageStream: Int chat: Int }`);
  for (const name of ['tick', 'messageStream', 'chat']) {
    Object.assign(fields.getSubscriptionType()!.getFields()[name], {
      subscribe: async function* () {
        yield { [name]: 1 };
      },
    });
  }
  class RecordingCosts extends SubscriptionCosts {
    counted = 0;
    override resolved(): void {
      this.counted++;
    }
  }
  const countedEvents = async (document: string, operationName?: string) => {
    const costs = new RecordingCosts(MIN_SUBSCRIPTION_COST * 10, noLimits);
    const { subscribe: open } = envelop({ plugins: [useEngine({ parse, validate, execute, subscribe: graphqlSubscribe }), useSchema(fields), useOperationCost(costs)] })({});
    const result = await open({ schema: fields, document: parse(document), operationName, contextValue: { viewer: { userId: 'u', orgId: null } } });
    const events: unknown[] = [];
    for await (const event of result as AsyncIterable<unknown>) events.push(event);
    expect(events).toHaveLength(1);
    return costs.counted;
  };

  it.each([
    ['a conversation\'s changes', 'subscription { tick }', undefined, 1],
    ['a reply\'s stream', 'subscription { messageStream }', undefined, 0],
    ['a reply\'s stream through a fragment, aliased', 'subscription { ...F } fragment F on Subscription { s: chat }', undefined, 0],
    ['a field skipped beside another (a reply\'s stream named first)', 'subscription { messageStream @skip(if: true) tick }', undefined, 1],
    ['a skipped inline fragment of a reply\'s stream first', 'subscription { ... on Subscription @skip(if: true) { chat } tick }', undefined, 1],
    ['the named operation of two', 'subscription A { messageStream } subscription B { tick }', 'B', 1],
  ])('%s: %s', async (_what, document, operationName, counted) => {
    expect(await countedEvents(document, operationName)).toBe(counted);
  });
});

describe('the share a subscription holds', () => {
  // A subscription field whose stream ends as asked: after one event, by finishing or by failing.
  const ends = { how: 'finishes' as 'finishes' | 'fails', started: 0 };
  const tiny = buildSchema(`type Query { a: Int } type Subscription { tick: Int }`);
  Object.assign(tiny.getSubscriptionType()!.getFields().tick, {
    subscribe: async function* () {
      ends.started++;
      yield { tick: 1 };
      if (ends.how === 'fails') throw new Error('the event source went away');
    },
  });
  const owner = { userId: 'u', orgId: null } as unknown as Viewer;
  const run = async (costs: SubscriptionCosts) => {
    const { subscribe: open } = envelop({ plugins: [useEngine({ parse, validate, execute, subscribe: graphqlSubscribe }), useSchema(tiny), useOperationCost(costs)] })({});
    const result = await open({ schema: tiny, document: parse('subscription { tick }'), contextValue: { viewer: owner } });
    const events: unknown[] = [];
    try {
      for await (const event of result as AsyncIterable<unknown>) events.push(event);
    } catch {
      // as graphql-ws and SSE end a stream that fails
    }
    return { result, events };
  };

  it(`counts ${MIN_SUBSCRIPTION_COST} fields at least, however few it selects (running one for an event costs as much)`, async () => {
    ends.how = 'finishes';
    ends.started = 0;
    const refused = await run(new SubscriptionCosts(MIN_SUBSCRIPTION_COST - 1, noLimits)); // `subscription { tick }` selects 1
    expect((refused.result as { errors?: { message: string }[] }).errors?.[0]?.message).toContain(`counts as ${MIN_SUBSCRIPTION_COST} fields per event`);
    expect(ends.started).toBe(0);
    expect((await run(new SubscriptionCosts(MIN_SUBSCRIPTION_COST, noLimits))).events).toHaveLength(1);
  });

  it('is given back when the subscription cannot start at all', async () => {
    const costs = new SubscriptionCosts(MIN_SUBSCRIPTION_COST, noLimits);
    const cannotStart = { onSubscribe: ({ setSubscribeFn }: { setSubscribeFn: (fn: () => never) => void }) => setSubscribeFn(() => { throw new Error('no stream'); }) };
    const { subscribe: open } = envelop({ plugins: [useEngine({ parse, validate, execute, subscribe: graphqlSubscribe }), useSchema(tiny), cannotStart, useOperationCost(costs)] })({});
    await expect(Promise.resolve().then(() => open({ schema: tiny, document: parse('subscription { tick }'), contextValue: { viewer: owner } }))).rejects.toThrow('no stream');
    expect(costs.hold(owner, MIN_SUBSCRIPTION_COST)).toBe(true);
  });

  it.each(['finishes', 'fails'] as const)('is given back when its stream %s, and a refused one never starts', async (how) => {
    ends.how = how;
    ends.started = 0;
    const costs = new SubscriptionCosts(MIN_SUBSCRIPTION_COST, noLimits); // `subscription { tick }` counts that much
    expect((await run(costs)).events).toHaveLength(1);
    expect(costs.hold(owner, MIN_SUBSCRIPTION_COST)).toBe(true); // all of it given back
    const refused = await run(costs);
    expect((refused.result as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(ends.started).toBe(1);
  });
});

