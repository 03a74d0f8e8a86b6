// One event, many subscribers of one viewer: the rows the event's selections need are read once for
// all of them, not once each, and every subscriber gets what it would get alone. Another viewer's
// subscribers read for themselves and see nothing of the first viewer's.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { appendMessage, createConversation, startTestApp, subscribe, waitFor, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { EventLoaders } from '../src/event-loaders.ts';

let t: TestApp;
let server: RunningServer;
/** The names of the warnings this process printed meanwhile (Node's listener-leak alarm among them). */
const warnings: string[] = [];
const noteWarning = (warning: Error) => warnings.push(warning.name);
beforeAll(async () => {
  process.on('warning', noteWarning);
  t = await startTestApp({ WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '100', ECHO_DELAY_MS: '5' });
  server = await t.listen();
});
afterAll(async () => {
  process.off('warning', noteWarning);
  await t.close();
});

const SIDEBAR = `subscription { conversationsChanged { type conversationId conversation { id title messageCount
  messages(last: 3) { totalCount edges { node { id content siblingCount previousSibling { id } } } } } message { id content parent { id } } } }`;
const STREAM = `subscription($id: ID!) { messageStream(messageId: $id) { __typename sequenceNumber
  ... on MessageStarted { message { id status conversation { title } } } ... on MessageCompleted { message { id status content conversation { title messageCount } } } } }`;

/** n subscriptions of `query` for `viewer` over one socket, opened and settled. */
async function subscribers(viewer: TestViewer, n: number, query: string, variables: Record<string, unknown> = {}) {
  const client = wsClient(server, viewer);
  const subs = Array.from({ length: n }, () => subscribe<any>(client, query, variables));
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { subs, close: () => client.dispose() };
}

/** The SQL statements an append costs while n sidebars of its viewer are open, and what each got. */
async function appendWatchedBy(n: number) {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { title: `watched by ${n}` });
  await appendMessage(t, viewer, c.id, { content: 'before', tokens: 1 });
  const { subs, close } = await subscribers(viewer, n, SIDEBAR);
  const { statements } = await t.countQueries(async () => {
    await appendMessage(t, viewer, c.id, { content: 'the event', tokens: 1 });
    await waitFor(() => subs.every((s) => s.results.length >= 1), `${n} sidebars to get the event`);
  });
  const got = subs.map((s) => s.results[0]);
  await close();
  // The contents shown are read apart from their rows (src/stored-values.ts), each once for all the
  // subscribers, in as many batches as there are ticks in which a content is first asked for: one at the
  // event's message, one at the page below its conversation, or both at once, as the subscribers interleave.
  const storedValues = statements.filter((sql) => sql.includes('octet_length')).length;
  return { count: statements.length - storedValues, storedValues, got };
}

it('an event read once for all the sidebars of a viewer that get it: the same statements for 1 or 30, the same data for each', async () => {
  const one = await appendWatchedBy(1);
  const many = await appendWatchedBy(30);
  expect(one.got[0].errors).toBeUndefined();
  const event = one.got[0].data.conversationsChanged;
  expect(event).toMatchObject({ type: 'MESSAGE_ADDED', conversation: { title: 'watched by 1', messageCount: 2 }, message: { content: 'the event' } });
  expect(event.conversation.messages.edges.map((e: any) => e.node.content)).toEqual(['before', 'the event']);
  expect(many.count, 'statements with 30 subscribers against 1').toBe(one.count);
  expect(one.storedValues).toBeGreaterThan(0);
  expect(many.storedValues).toBeLessThanOrEqual(2);
  const first = many.got[0];
  expect(first.data.conversationsChanged.conversation.title).toBe('watched by 30');
  for (const got of many.got) expect(got).toEqual(first);
  expect(warnings, '30 sidebars of a viewer listen on one topic: no false alarm of a leak').not.toContain('MaxListenersExceededWarning');
});

it("a reply's last event reads the message once for all its followers", async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { title: 'followed', model: 'builtin:echo' });
  const words = Array.from({ length: 150 }, (_, i) => `w${i}`).join(' '); // 150 words, 5 ms apart: the followers join while it streams
  await appendMessage(t, viewer, c.id, { content: words, tokens: 1 });
  /** Reads from when n followers are attached (each checked once as it subscribes) to the end of the reply. */
  const statements = async (n: number) => {
    const { generateReply } = await t.gql(`mutation($c: ID!) { generateReply(input: { conversationId: $c }) { assistantMessage { id } } }`, { c: c.id }, viewer);
    const { subs, close } = await subscribers(viewer, n, STREAM, { id: generateReply.assistantMessage.id });
    let got: any[][] = [];
    const { statements } = await t.countQueries(async () => (got = await Promise.all(subs.map((s) => s.all()))));
    await close();
    // Reads only: how often the reply's text is flushed as it streams depends on how long it takes.
    return { count: statements.filter((sql) => /^\s*SELECT/i.test(sql)).length, got };
  };
  const one = await statements(1);
  const many = await statements(20);
  const last = one.got[0].at(-1).data.messageStream;
  expect(last).toMatchObject({ __typename: 'MessageCompleted', message: { status: 'COMPLETED', content: words, conversation: { title: 'followed' } } });
  expect(one.got[0][0].data.messageStream.__typename).toBe('MessageStarted');
  expect(many.count, 'reads with 20 followers against 1').toBe(one.count);
  const terminal = many.got[0].at(-1);
  expect(terminal.data.messageStream.message.content).toBe(words);
  for (const events of many.got) expect(events.at(-1)).toEqual(terminal);
});

it("another viewer's sidebars read their own rows, and get only their own events", async () => {
  const [alice, bob] = [await t.viewer(), await t.viewer()];
  const aliceSidebars = await subscribers(alice, 5, SIDEBAR);
  const bobSidebars = await subscribers(bob, 5, SIDEBAR);
  const mine = await createConversation(t, alice, { title: "alice's" });
  const theirs = await createConversation(t, bob, { title: "bob's" });
  await appendMessage(t, alice, mine.id, { content: 'for alice', tokens: 1 });
  await appendMessage(t, bob, theirs.id, { content: 'for bob', tokens: 1 });
  await waitFor(() => [...aliceSidebars.subs, ...bobSidebars.subs].every((s) => s.results.length >= 2), 'both events');
  for (const s of aliceSidebars.subs) expect(s.results.map((r) => r.data.conversationsChanged.conversation.title)).toEqual(["alice's", "alice's"]);
  for (const s of bobSidebars.subs) expect(s.results.map((r) => r.data.conversationsChanged.conversation.title)).toEqual(["bob's", "bob's"]);
  await aliceSidebars.close();
  await bobSidebars.close();
});

it('shares loaders between the subscribers of one event only when they act as the same viewer', async () => {
  const loaders = new EventLoaders(t.app.services);
  const event = { type: 'MESSAGE_ADDED' };
  const alice = { userId: 'alice', orgId: null };
  expect(loaders.for(event, alice)).toBe(loaders.for(event, { userId: 'alice', orgId: null }));
  expect(loaders.for(event, alice)).not.toBe(loaders.for(event, { userId: 'bob', orgId: null }));
  expect(loaders.for(event, alice)).not.toBe(loaders.for(event, { userId: 'alice', orgId: 'acme' }));
  // A user id holding what a naive key would join on is another viewer still.
  expect(loaders.for(event, { userId: 'a\u0000b', orgId: null })).not.toBe(loaders.for(event, { userId: 'b', orgId: 'a' }));
  expect(loaders.for({ type: 'MESSAGE_ADDED' }, alice)).not.toBe(loaders.for(event, alice)); // another event, fresh rows
});
