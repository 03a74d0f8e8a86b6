// Branches, black-box: edits and regenerations add siblings, a conversation shows one branch at a time
// (currentMessage), switchBranch and leafId read any other, forkConversation copies one; with the
// guarantees the contract already gives: gapless positions along every branch, idempotency, tenancy,
// events and counters, under concurrent writers.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMessage, createConversation, expectErrorCode, startTestApp, subscribe, waitForMessageStatus, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let t: TestApp;
let server: RunningServer;
beforeAll(async () => {
  t = await startTestApp({ ECHO_DELAY_MS: '1', RATE_LIMIT_GENERATIONS_PER_MINUTE: '0' });
  server = await t.listen();
});
afterAll(() => t.close());

const NODE = 'id role content position parent { id } siblingIndex siblingCount previousSibling { id } nextSibling { id }';
const BRANCH = `query($id: ID!, $leaf: ID) { conversation(id: $id) {
  version messageCount totalTokens preview lastMessageAt currentMessage { id }
  messages(first: 100, leafId: $leaf) { totalCount edges { node { ${NODE} } } } } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } assistantMessage { id } } }`;
const EDIT = `mutation($input: EditMessageInput!) { editMessage(input: $input) {
  userMessage { ${NODE} } assistantMessage { id status } conversation { messageCount currentMessage { id } } } }`;
const REGENERATE = `mutation($input: RegenerateMessageInput!) { regenerateMessage(input: $input) {
  assistantMessage { ${NODE} status model } conversation { messageCount currentMessage { id } } } }`;
const SWITCH = `mutation($id: ID!) { switchBranch(input: { messageId: $id }) { conversation { version messageCount preview currentMessage { id } } } }`;
const FORK = `mutation($input: ForkConversationInput!) { forkConversation(input: $input) { conversation {
  id title status model systemPrompt metadata projectId agentId tools { name } messageCount totalTokens preview version currentMessage { id }
  messages(first: 100) { edges { node { id role content position toolCalls toolCallId parent { id } siblingCount chatSession { id } } } } } } }`;

const gqlAs = (viewer: TestViewer) => (query: string, variables: Record<string, unknown>) => t.gql(query, variables, viewer);

async function branch(viewer: TestViewer, id: string, leaf?: string) {
  const { conversation } = await t.gql(BRANCH, { id, leaf }, viewer);
  return { ...conversation, nodes: conversation.messages.edges.map((e: any) => e.node) };
}

/** sendMessage, then waits for the reply: [user message id, reply id]. */
async function turn(viewer: TestViewer, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<[string, string]> {
  const { sendMessage } = await t.gql(SEND, { input: { conversationId, content, ...extra } }, viewer);
  await waitForMessageStatus(gqlAs(viewer), sendMessage.assistantMessage.id, 'COMPLETED');
  return [sendMessage.userMessage.id, sendMessage.assistantMessage.id];
}

const contents = (nodes: { content: string }[]) => nodes.map((n) => n.content);

describe('a tree three levels deep', () => {
  it('edits and regenerations at several depths; every branch switched to and read', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const [u1, a1] = await turn(viewer, c.id, 'one');
    const [u2, a2] = await turn(viewer, c.id, 'two');
    const [u3, a3] = await turn(viewer, c.id, 'three');
    const linear = await branch(viewer, c.id);
    expect(contents(linear.nodes)).toEqual(['one', 'one', 'two', 'two', 'three', 'three']);
    expect(linear.nodes.map((n: any) => [n.position, n.parent?.id ?? null, n.siblingIndex, n.siblingCount])).toEqual([
      [1, null, 1, 1],
      [2, u1, 1, 1],
      [3, a1, 1, 1],
      [4, u2, 1, 1],
      [5, a2, 1, 1],
      [6, u3, 1, 1],
    ]);

    // Depth 3: a regeneration answers the same history: the echo of "three" again, beside the first.
    const regenerated = (await t.gql(REGENERATE, { input: { messageId: a3 } }, viewer)).regenerateMessage;
    const a3b = regenerated.assistantMessage.id;
    expect(regenerated.assistantMessage).toMatchObject({ position: 6, parent: { id: u3 }, siblingIndex: 2, siblingCount: 2, previousSibling: { id: a3 }, nextSibling: null, model: 'builtin:echo' });
    expect(regenerated.conversation).toEqual({ messageCount: 6, currentMessage: { id: a3b } });
    expect((await waitForMessageStatus(gqlAs(viewer), a3b, 'COMPLETED')).content).toBe('three');

    // Depth 2: an edit and its reply; the rest of the old branch stays where it was.
    const edited = (await t.gql(EDIT, { input: { messageId: u2, content: 'two, edited' } }, viewer)).editMessage;
    const [u2b, a2b] = [edited.userMessage.id, edited.assistantMessage.id];
    expect(edited.userMessage).toMatchObject({ position: 3, parent: { id: a1 }, siblingIndex: 2, siblingCount: 2, previousSibling: { id: u2 } });
    expect(edited.conversation).toEqual({ messageCount: 4, currentMessage: { id: a2b } }); // the reply ends the branch
    await waitForMessageStatus(gqlAs(viewer), a2b, 'COMPLETED');
    const afterEdit = await branch(viewer, c.id);
    expect(contents(afterEdit.nodes)).toEqual(['one', 'one', 'two, edited', 'two, edited']);
    expect(afterEdit).toMatchObject({ messageCount: 4, preview: 'two, edited', currentMessage: { id: a2b } });
    expect(afterEdit.messages.totalCount).toBe(4);

    // Depth 1: the first message edited without a reply; it has no parent, and is the second first message.
    const root = (await t.gql(EDIT, { input: { messageId: u1, content: 'uno', generate: false } }, viewer)).editMessage;
    const u1b = root.userMessage.id;
    expect(root.userMessage).toMatchObject({ position: 1, parent: null, siblingIndex: 2, siblingCount: 2, previousSibling: { id: u1 } });
    expect(root.assistantMessage).toBeNull();
    expect((await branch(viewer, c.id)).nodes.map((n: any) => n.id)).toEqual([u1b]);

    // Every branch, by its leaf.
    expect((await branch(viewer, c.id, a3)).nodes.map((n: any) => n.id)).toEqual([u1, a1, u2, a2, u3, a3]);
    expect((await branch(viewer, c.id, a3b)).nodes.map((n: any) => n.id)).toEqual([u1, a1, u2, a2, u3, a3b]);
    expect((await branch(viewer, c.id, a2b)).nodes.map((n: any) => n.id)).toEqual([u1, a1, u2b, a2b]);
    expect((await branch(viewer, c.id, u2)).nodes.map((n: any) => n.id)).toEqual([u1, a1, u2]); // a leaf may be any message

    // Switching: the newest leaf below, the most recent child at each step.
    const before = await branch(viewer, c.id);
    let switched = (await t.gql(SWITCH, { id: u1 }, viewer)).switchBranch.conversation;
    expect(switched).toEqual({ version: before.version + 1, messageCount: 4, preview: 'two, edited', currentMessage: { id: a2b } });
    switched = (await t.gql(SWITCH, { id: u2 }, viewer)).switchBranch.conversation;
    expect(switched).toMatchObject({ version: before.version + 2, messageCount: 6, preview: 'three', currentMessage: { id: a3b } });
    switched = (await t.gql(SWITCH, { id: a3 }, viewer)).switchBranch.conversation;
    expect(switched.currentMessage).toEqual({ id: a3 });
    const shown = await branch(viewer, c.id);
    expect(shown.nodes.map((n: any) => n.id)).toEqual([u1, a1, u2, a2, u3, a3]);
    // Siblings on the page shown, and the window the next reply would see.
    expect(shown.nodes.map((n: any) => [n.siblingIndex, n.siblingCount, n.nextSibling?.id ?? null])).toEqual([
      [1, 2, u1b],
      [1, 1, null],
      [1, 2, u2b],
      [1, 1, null],
      [1, 1, null],
      [1, 2, a3b],
    ]);
    const window = await t.gql(`query($id: ID!) { conversation(id: $id) { contextWindow(maxTokens: 1000) { id } } }`, { id: c.id }, viewer);
    expect(window.conversation.contextWindow.map((m: any) => m.id)).toEqual([u1, a1, u2, a2, u3, a3]);

    // A new turn goes under the current message; the counters count every message of every branch.
    const [u4, a4] = await turn(viewer, c.id, 'four');
    const latest = await branch(viewer, c.id);
    expect(latest.nodes.map((n: any) => n.id)).toEqual([u1, a1, u2, a2, u3, a3, u4, a4]);
    expect(latest.messageCount).toBe(8);
    const every = [u1, a1, u2, a2, u3, a3, a3b, u2b, a2b, u1b, u4, a4];
    const { nodes } = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on Message { tokens createdAt } } }`, { ids: every }, viewer);
    expect(latest.totalTokens).toBe(nodes.reduce((sum: number, m: any) => sum + m.tokens, 0));
    expect(latest.lastMessageAt).toBe(nodes.map((m: any) => m.createdAt).sort().at(-1));
  });

  it('a reply to an edit sees the edited branch only; a regeneration with another model keeps the same history', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    await turn(viewer, c.id, 'first question');
    const [u2, a2] = await turn(viewer, c.id, '/call lookup {"q":"x"}', { tools: [{ name: 'lookup', parameters: { type: 'object' } }] });
    // The edit answers "other" with no tool call: the call on the old branch is not in its history.
    const edited = (await t.gql(EDIT, { input: { messageId: u2, content: 'other' } }, viewer)).editMessage;
    expect((await waitForMessageStatus(gqlAs(viewer), edited.assistantMessage.id, 'COMPLETED')).content).toBe('other');
    // The old call message is still there, with its calls, and may be regenerated: same history (the /call).
    const regenerated = (await t.gql(REGENERATE, { input: { messageId: a2, model: 'builtin:echo', tools: [{ name: 'lookup', parameters: { type: 'object' } }] } }, viewer))
      .regenerateMessage.assistantMessage;
    expect(regenerated).toMatchObject({ parent: { id: u2 }, siblingIndex: 2, siblingCount: 2 });
    await waitForMessageStatus(gqlAs(viewer), regenerated.id, 'COMPLETED');
    const { node } = await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { toolCalls finishReason } } }`, { id: regenerated.id }, viewer);
    expect(node.finishReason).toBe('TOOL_CALLS');
    expect(node.toolCalls[0].function).toEqual({ name: 'lookup', arguments: '{"q":"x"}' });
  });
});

describe('appendMessage and sendMessage under a given parent', () => {
  it('adds a new branch under any message of the conversation, which becomes current', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const m1 = (await appendMessage(t, viewer, c.id, { content: 'a' })).message;
    const m2 = (await appendMessage(t, viewer, c.id, { content: 'b', role: 'ASSISTANT' })).message;
    await appendMessage(t, viewer, c.id, { content: 'c' });
    const side = await appendMessage(t, viewer, c.id, { content: 'b2', role: 'ASSISTANT', parentMessageId: m1.id });
    expect(side.message.position).toBe(2);
    expect(side.conversation).toMatchObject({ messageCount: 2, preview: 'b2' });
    const shown = await branch(viewer, c.id);
    expect(contents(shown.nodes)).toEqual(['a', 'b2']);
    expect(shown.nodes[1]).toMatchObject({ siblingIndex: 2, siblingCount: 2, previousSibling: { id: m2.id } });
    // sendMessage under the first message too: a third sibling, and a reply to it.
    const [u, a] = await turn(viewer, c.id, 'again', { parentMessageId: m1.id, model: 'builtin:echo' });
    expect((await branch(viewer, c.id)).nodes.map((n: any) => n.id)).toEqual([m1.id, u, a]);
  });
});

describe('pagination inside a long branch', () => {
  it('pages both ways along a branch of many lanes, exactly, while other branches grow', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    // 30 messages, then at every fifth one a side branch, and the branch read goes on from the last side.
    const ids: string[] = [];
    for (let i = 1; i <= 30; i++) ids.push((await appendMessage(t, viewer, c.id, { content: `m${i}` })).message.id);
    const expected = [...ids];
    for (const depth of [5, 10, 15, 20, 25]) {
      expected.length = depth;
      for (let i = 1; i <= 6; i++) {
        const parent = expected.at(-1)!;
        expected.push((await appendMessage(t, viewer, c.id, { content: `side ${depth}.${i}`, parentMessageId: parent })).message.id);
      }
      // …and the original branch goes on from there, so the branch read crosses a new lane every time.
    }
    const leaf = expected.at(-1)!;
    const page = `query($id: ID!, $leaf: ID, $first: Int, $after: String, $last: Int, $before: String) { conversation(id: $id) {
      messages(leafId: $leaf, first: $first, after: $after, last: $last, before: $before) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { node { id position } } } } }`;
    const writers = (async () => {
      for (let i = 0; i < 20; i++) await appendMessage(t, viewer, c.id, { content: `meanwhile ${i}`, parentMessageId: ids[i % 30] });
    })();

    const forward: { id: string; position: number }[] = [];
    let after: string | null = null;
    for (;;) {
      const { conversation }: any = await t.gql(page, { id: c.id, leaf, first: 7, after }, viewer);
      forward.push(...conversation.messages.edges.map((e: any) => e.node));
      expect(conversation.messages.totalCount).toBe(expected.length);
      if (!conversation.messages.pageInfo.hasNextPage) break;
      after = conversation.messages.pageInfo.endCursor;
    }
    const backward: { id: string; position: number }[] = [];
    let before: string | null = null;
    for (;;) {
      const { conversation }: any = await t.gql(page, { id: c.id, leaf, last: 6, before }, viewer);
      backward.unshift(...conversation.messages.edges.map((e: any) => e.node));
      if (!conversation.messages.pageInfo.hasPreviousPage) break;
      before = conversation.messages.pageInfo.startCursor;
    }
    await writers;
    expect(forward.map((n) => n.id)).toEqual(expected);
    expect(backward.map((n) => n.id)).toEqual(expected);
    expect(forward.map((n) => n.position)).toEqual(expected.map((_, i) => i + 1));
    // With a role filter, the same branch and only those roles.
    const { conversation } = await t.gql(`query($id: ID!, $leaf: ID) { conversation(id: $id) { messages(leafId: $leaf, roles: [USER], first: 100) { totalCount edges { node { id } } } } }`, { id: c.id, leaf }, viewer);
    expect(conversation.messages.edges.map((e: any) => e.node.id)).toEqual(expected);
    expect(conversation.messages.totalCount).toBe(expected.length);
  });

  it('reads a page of a branch in the same number of SQL statements whatever its lanes, siblings included', async () => {
    const viewer = await t.viewer();
    const linear = await createConversation(t, viewer);
    const tree = await createConversation(t, viewer);
    const tip: Record<string, string> = {};
    for (let i = 1; i <= 40; i++) {
      tip.linear = (await appendMessage(t, viewer, linear.id, { content: `m${i}` })).message.id;
      tip.tree = (await appendMessage(t, viewer, tree.id, { content: `m${i}` })).message.id;
      // A sibling at every level of the tree, then back to the main branch: 40 lanes deep.
      if (i % 2 === 0) {
        await appendMessage(t, viewer, tree.id, { content: `alt${i}`, parentMessageId: tip.tree });
        await appendMessage(t, viewer, tree.id, { content: `n${i}`, parentMessageId: tip.tree });
        tip.tree = (await appendMessage(t, viewer, tree.id, { content: `alt${i}b`, parentMessageId: tip.tree })).message.id;
      }
    }
    const query = `query($id: ID!) { conversation(id: $id) { messages(last: 30) { totalCount edges { node { id position siblingIndex siblingCount parent { id } previousSibling { id } nextSibling { id } } } } } }`;
    const read = async (id: string) => t.countQueries(() => t.gql(query, { id }, viewer));
    const [a, b] = [await read(linear.id), await read(tree.id)];
    expect(b.count).toBe(a.count);
    // The conversation, the page, the parents, the sibling counts, the siblings.
    expect(a.count).toBeLessThanOrEqual(5);
  });
});

describe('forkConversation', () => {
  it('copies a branch with its tool calls into a new conversation that goes on from there', async () => {
    const viewer = await t.viewer();
    const tools = [{ name: 'lookup', parameters: { type: 'object' } }];
    const c = await createConversation(t, viewer, { model: 'builtin:echo', systemPrompt: 'Be brief.', metadata: { k: 1 }, projectId: 'p', agentId: 'a', tools });
    await turn(viewer, c.id, 'hello');
    const [, call] = await turn(viewer, c.id, '/call lookup {"q":"sea"}');
    const { node } = await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { toolCalls } } }`, { id: call }, viewer);
    const submitted = await t.gql(
      `mutation($input: SubmitToolResultsInput!) { submitToolResults(input: $input) { assistantMessage { id } } }`,
      { input: { messageId: call, results: [{ toolCallId: node.toolCalls[0].id, content: 'salt water' }] } },
      viewer,
    );
    const answer = submitted.submitToolResults.assistantMessage.id;
    await waitForMessageStatus(gqlAs(viewer), answer, 'COMPLETED');
    await turn(viewer, c.id, 'and after');
    const source = await branch(viewer, c.id);

    const fork = (await t.gql(FORK, { input: { messageId: answer, title: 'Forked', idempotencyKey: 'fork-1' } }, viewer)).forkConversation.conversation;
    expect(fork).toMatchObject({ title: 'Forked', status: 'ACTIVE', model: 'builtin:echo', systemPrompt: 'Be brief.', metadata: { k: 1 }, projectId: 'p', agentId: 'a', tools: [{ name: 'lookup' }], version: 1 });
    const copies = fork.messages.edges.map((e: any) => e.node);
    expect(copies.map((m: any) => m.content)).toEqual(source.nodes.slice(0, 6).map((m: any) => m.content));
    expect(copies.map((m: any) => m.position)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(copies.map((m: any) => m.parent?.id ?? null)).toEqual([null, ...copies.slice(0, -1).map((m: any) => m.id)]);
    expect(copies[3].toolCalls).toEqual(node.toolCalls);
    expect(copies[4]).toMatchObject({ role: 'TOOL', toolCallId: node.toolCalls[0].id, chatSession: null });
    expect(copies.every((m: any) => !source.nodes.some((s: any) => s.id === m.id))).toBe(true);
    expect(fork).toMatchObject({ messageCount: 6, preview: 'lookup returned: salt water', currentMessage: { id: copies[5].id } });
    // A retry is the same fork; another key is another fork, with the source's title.
    expect((await t.gql(FORK, { input: { messageId: answer, title: 'Forked', idempotencyKey: 'fork-1' } }, viewer)).forkConversation.conversation.id).toBe(fork.id);
    const second = (await t.gql(FORK, { input: { messageId: call } }, viewer)).forkConversation.conversation;
    expect(second).toMatchObject({ title: 'A conversation', messageCount: 4 });

    // The fork goes on: its calls can be answered there, and a reply sees the copied history.
    const callCopy = second.currentMessage.id;
    const resumed = await t.gql(
      `mutation($input: SubmitToolResultsInput!) { submitToolResults(input: $input) { assistantMessage { id } } }`,
      { input: { messageId: callCopy, results: [{ toolCallId: node.toolCalls[0].id, content: 'fresh water' }] } },
      viewer,
    );
    expect((await waitForMessageStatus(gqlAs(viewer), resumed.submitToolResults.assistantMessage.id, 'COMPLETED')).content).toBe('lookup returned: fresh water');
    expect((await branch(viewer, c.id)).nodes.length).toBe(source.nodes.length); // the source is untouched
  });

  it('refuses a STREAMING message, another owner\'s, a bad title; stores nothing', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const { sendMessage } = await t.gql(SEND, { input: { conversationId: c.id, content: 'a long one '.repeat(1000) } }, viewer);
    const streaming = await t.request(FORK, { input: { messageId: sendMessage.assistantMessage.id } }, viewer);
    expectErrorCode(streaming.body, 'BAD_USER_INPUT');
    expectErrorCode((await t.request(FORK, { input: { messageId: sendMessage.userMessage.id } }, await t.viewer())).body, 'NOT_FOUND');
    expectErrorCode((await t.request(FORK, { input: { messageId: sendMessage.userMessage.id, title: 'x'.repeat(256) } }, viewer)).body, 'BAD_USER_INPUT');
    const list = await t.gql(`{ conversations(first: 10) { totalCount } }`, {}, viewer);
    expect(list.conversations.totalCount).toBe(1);
  });

  it('copies a long branch a megabyte at a time, each copy under the one before', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const texts = Array.from({ length: 25 }, (_, i) => `${i} ` + 'lorem ipsum dolor '.repeat(5_000)); // 90,000 characters each: three statements
    let last = '';
    for (const text of texts) last = (await appendMessage(t, viewer, c.id, { content: text, tokens: 2 })).message.id;
    const { forkConversation } = await t.gql(
      `mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { messageCount totalTokens currentMessage { id }
        messages(first: 100) { edges { node { id content position parent { id } } } } } } }`,
      { m: last },
      viewer,
    );
    const copies = forkConversation.conversation.messages.edges.map((e: any) => e.node);
    expect(copies.map((m: any) => m.content)).toEqual(texts);
    expect(copies.map((m: any) => m.position)).toEqual(texts.map((_, i) => i + 1));
    expect(copies.map((m: any) => m.parent?.id ?? null)).toEqual([null, ...copies.slice(0, -1).map((m: any) => m.id)]);
    expect(forkConversation.conversation).toMatchObject({ messageCount: 25, totalTokens: 50, currentMessage: { id: copies[24].id } });
  });

  it('copies a branch of many short messages 500 at a time, each copy under the one before across the statements', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const ids: string[] = [];
    for (let i = 0; i < 1_100; i++) ids.push((await appendMessage(t, viewer, c.id, { content: `m${i}`, tokens: 1 })).message.id);
    let fork = { id: '', messageCount: 0 };
    const { statements } = await t.countQueries(async () => {
      const data = await t.gql(`mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { id messageCount } } }`, { m: ids.at(-1) }, viewer);
      fork = data.forkConversation.conversation;
    });
    expect(statements.filter((sql) => sql.includes('INSERT INTO "Message"'))).toHaveLength(3);
    expect(fork.messageCount).toBe(1_100);
    const conversationId = Buffer.from(fork.id, 'base64').toString().split(':')[1];
    const rows = await t.app.services.prisma.message.findMany({ where: { conversationId }, orderBy: { position: 'asc' }, select: { id: true, parentId: true, content: true } });
    expect(rows.map((row) => row.content)).toEqual(ids.map((_, i) => `m${i}`));
    expect(rows.map((row) => row.parentId)).toEqual([null, ...rows.slice(0, -1).map((row) => row.id)]);
  }, 60_000);
});

describe('lanes along one branch', () => {
  it('are at most MAX_BRANCH_LANES: a branch that turns off at every step is refused there, and a fork of it goes on', async () => {
    const limited = await startTestApp({ MAX_BRANCH_LANES: '3' });
    try {
      const viewer = await limited.viewer();
      const c = await createConversation(limited, viewer);
      const add = async (content: string, parentMessageId?: string) =>
        limited.request(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`, { input: { conversationId: c.id, role: 'USER', content, parentMessageId } }, viewer);
      // A staircase: each step a second child of the step before, so each starts a lane whose path is one longer.
      let step = (await add('0')).body.data.appendMessage.message.id;
      await add('first child');
      for (const content of ['lane 1', 'lane 2']) {
        step = (await add(content, step)).body.data.appendMessage.message.id;
        await add(`${content}, first child`);
      }
      const refused = await add('lane 3', step);
      expect(expectErrorCode(refused.body, 'BAD_USER_INPUT').message).toContain('fork the conversation');
      expect(await limited.app.services.prisma.lane.count({ where: { conversationId: Buffer.from(c.id, 'base64').toString().split(':')[1] } })).toBe(3);
      // A fork is one lane: it goes on where the branch could not, with a second child under the same message.
      const fork = await limited.gql(`mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { id currentMessage { id } } } }`, { m: step }, viewer);
      const { id: forkId, currentMessage } = fork.forkConversation.conversation;
      const appendOnFork = (content: string) =>
        limited.request(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { siblingIndex } } }`, {
          input: { conversationId: forkId, role: 'USER', content, parentMessageId: currentMessage.id },
        }, viewer);
      expect((await appendOnFork('first child')).body.errors).toBeUndefined();
      const onFork = await appendOnFork('lane 3, on the fork');
      expect(onFork.body.data?.appendMessage.message.siblingIndex).toBe(2);
      expect(onFork.body.errors).toBeUndefined();
    } finally {
      await limited.close();
    }
  });

  it("a new lane counts the path its row stores toward the viewer's day of bytes (RATE_LIMIT_MB_PER_DAY), once it is stored", async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const add = async (content: string, parentMessageId?: string) =>
      (await t.gql(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`, { input: { conversationId: c.id, role: 'USER', content, parentMessageId } }, viewer)).appendMessage.message.id;
    // A staircase: lanes 1 to 3 turn off one under another; a message beside the last step starts a lane whose path holds five.
    let step = await add('0');
    await add('first child');
    for (const content of ['lane 1', 'lane 2', 'lane 3']) {
      step = await add(content, step);
      await add(`${content}, first child`);
    }
    // What the server counts toward the viewer's day (the limiter's own count, watched).
    const limiter = t.app.services.rateLimiter;
    const counted: number[] = [];
    const bytes = limiter.bytes;
    limiter.bytes = async (who, count) => {
      if (who.userId === viewer.userId) counted.push(count);
      return bytes.call(limiter, who, count);
    };
    try {
      await add('beside the last step', step);
      expect(counted).toHaveLength(2); // what the request was sent with, then the lane's path
      expect(counted[1]).toBe(5 * 8);
      counted.length = 0;
      await add('goes on in its lane');
      expect(counted).toHaveLength(1); // what it was sent with alone
    } finally {
      limiter.bytes = bytes;
    }
  });

  it('an INTERRUPT edit or regeneration refused there leaves the running reply be: only a turn that passes every other check stops it', async () => {
    const limited = await startTestApp({ MAX_BRANCH_LANES: '2', ECHO_DELAY_MS: '4' }); // the reply streams some 4 s
    try {
      const viewer = await limited.viewer();
      const c = await createConversation(limited, viewer, { model: 'builtin:echo' });
      const add = async (content: string, { parentMessageId, role = 'USER' }: { parentMessageId?: string; role?: string } = {}) =>
        (await limited.gql(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`, { input: { conversationId: c.id, role, content, parentMessageId } }, viewer)).appendMessage.message.id;
      // Lane 1 turns off under the first message; the messages at its end have no room for a sibling.
      const root = await add('0');
      await add('first child');
      await add('second child, lane 1', { parentMessageId: root });
      const answer = await add('an answer', { role: 'ASSISTANT' });
      const { sendMessage } = await limited.gql(SEND, { input: { conversationId: c.id, content: 'long '.repeat(1000) } }, viewer);
      const edit = { messageId: sendMessage.userMessage.id, content: 'edited', onActiveGeneration: 'INTERRUPT' };
      expect(expectErrorCode((await limited.request(EDIT, { input: edit }, viewer)).body, 'BAD_USER_INPUT').message).toContain('fork the conversation');
      const regenerate = { messageId: answer, onActiveGeneration: 'INTERRUPT' };
      expect(expectErrorCode((await limited.request(REGENERATE, { input: regenerate }, viewer)).body, 'BAD_USER_INPUT').message).toContain('fork the conversation');
      const status = async () => (await limited.gql(`query($id: ID!) { node(id: $id) { ... on Message { status } } }`, { id: sendMessage.assistantMessage.id }, viewer)).node.status;
      expect(await status()).toBe('STREAMING');
      expect((await waitForMessageStatus((q, v) => limited.gql(q, v, viewer), sendMessage.assistantMessage.id, 'COMPLETED')).status).toBe('COMPLETED');
    } finally {
      await limited.close();
    }
  });
});

describe('a fork, counted against the rate limit', () => {
  it('costs a request per MAX_MESSAGE_CHARS it copies; refused, it stores nothing; larger than a minute allows, it is refused outright', async () => {
    const limited = await startTestApp({ MAX_MESSAGE_CHARS: '1000', RATE_LIMIT_REQUESTS_PER_MINUTE: '15' });
    try {
      const FORK_ID = `mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { id } } }`;
      let seed = 1;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      // Letters that do not compress (the database counts stored bytes).
      const noise = () => Array.from({ length: 1_000 }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
      /** A conversation of `n` messages of 1,000 characters with 1,000 more of metadata each: n + 1 requests, 2n to copy. */
      const branchOf = async (viewer: TestViewer, n: number) => {
        const c = await createConversation(limited, viewer);
        let last = '';
        for (let i = 0; i < n; i++) last = (await appendMessage(limited, viewer, c.id, { content: noise(), metadata: { n: noise() } })).message.id;
        return last;
      };
      const owned = (viewer: TestViewer) => limited.app.services.prisma.conversation.count({ where: { userId: viewer.userId } });

      // Some 11 requests to copy: with the 6 that made it, or on a second fork, past the 15 of a minute.
      const some = await limited.viewer();
      const five = await branchOf(some, 5);
      const forks = [await limited.request(FORK_ID, { m: five }, some), await limited.request(FORK_ID, { m: five }, some)];
      const refused = forks.filter((fork) => fork.body.errors);
      expect(refused.length).toBeGreaterThan(0);
      for (const fork of refused) expectErrorCode(fork.body, 'RATE_LIMITED');
      expect(await owned(some)).toBe(1 + forks.length - refused.length);

      // Some 21 requests to copy: more than a minute allows, so no retry could pass.
      const more = await limited.viewer();
      const ten = await branchOf(more, 10);
      const tooLarge = await limited.request(FORK_ID, { m: ten }, more);
      expect(expectErrorCode(tooLarge.body, 'BAD_USER_INPUT').message).toContain('a fork copies at most 15000');
      expect(await owned(more)).toBe(1);
    } finally {
      await limited.close();
    }
  });
});

describe('a fork that counts as more requests than the burst (RATE_LIMIT_REQUESTS_BURST)', () => {
  it('passes as one request would, and puts the viewer behind by all it counts', async () => {
    // A request a second: the fork's debt is some seven seconds long, the check after it well within them
    // however slowly a loaded machine runs the fork (at ten a second, it was 0.3 s).
    const limited = await startTestApp({ MAX_MESSAGE_CHARS: '1000', RATE_LIMIT_REQUESTS_PER_MINUTE: '60', RATE_LIMIT_REQUESTS_BURST: '5' });
    try {
      const viewer = await limited.viewer();
      /** Sent again while refused, ten times a second. */
      const patiently = async (query: string, variables: Record<string, unknown>) => {
        for (;;) {
          const { body } = await limited.request(query, variables, viewer);
          if (body.errors?.[0]?.extensions?.code !== 'RATE_LIMITED') return body;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const c = (await patiently(`mutation { createConversation(input: { title: "long" }) { conversation { id } } }`, {})).data!.createConversation.conversation.id;
      let last = '';
      for (let i = 0; i < 8; i++) {
        const appended = await patiently(`mutation($c: ID!, $t: String!) { appendMessage(input: { conversationId: $c, role: USER, content: $t }) { message { id } } }`, { c, t: randomBytes(750).toString('base64') });
        last = appended.data!.appendMessage.message.id;
      }
      await new Promise((resolve) => setTimeout(resolve, 1_200)); // a request back
      // Some 8,000 bytes to copy: 8 requests, more than the burst of 5. Refused for good before.
      const fork = await limited.request(`mutation($m: ID!) { forkConversation(input: { messageId: $m }) { conversation { id } } }`, { m: last }, viewer);
      expect(fork.body.errors).toBeUndefined();
      const next = await limited.request('{ viewer { userId } }', {}, viewer);
      expect(next.status).toBe(429);
      expect(next.body.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('concurrency', () => {
  it('two tabs regenerating at once: one wins, the other is told; the tree stays whole', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const [u, a] = await turn(viewer, c.id, 'question');
    const results = await Promise.all([1, 2].map(() => t.request(REGENERATE, { input: { messageId: a } }, viewer)));
    const won = results.filter((r) => !r.body.errors);
    expect(won).toHaveLength(1);
    expectErrorCode(results.find((r) => r.body.errors)!.body, 'GENERATION_IN_PROGRESS');
    await waitForMessageStatus(gqlAs(viewer), won[0].body.data.regenerateMessage.assistantMessage.id, 'COMPLETED');
    const shown = await branch(viewer, c.id);
    expect(shown.nodes.map((n: any) => [n.id, n.siblingIndex, n.siblingCount])).toEqual([
      [u, 1, 1],
      [won[0].body.data.regenerateMessage.assistantMessage.id, 2, 2],
    ]);
  });

  it('many writers under the same parent at once all become siblings, numbered once each', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const root = (await appendMessage(t, viewer, c.id, { content: 'root' })).message;
    const edits = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2
          ? t.gql(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id siblingIndex position } } }`, { input: { conversationId: c.id, role: 'ASSISTANT', content: `r${i}`, parentMessageId: root.id } }, viewer).then((d) => d.appendMessage.message)
          : t.gql(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id siblingIndex position } } }`, { input: { conversationId: c.id, role: 'USER', content: `u${i}`, parentMessageId: root.id } }, viewer).then((d) => d.appendMessage.message),
      ),
    );
    expect(edits.map((m) => m.siblingIndex).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(new Set(edits.map((m) => m.position))).toEqual(new Set([2]));
    const last = edits.find((m) => m.siblingIndex === 12)!;
    const shown = await branch(viewer, c.id);
    expect(shown.currentMessage.id).toBe(last.id); // the last writer's message is current
    expect(shown.nodes.map((n: any) => n.siblingCount)).toEqual([1, 12]);
    // Each sibling reads its own two-message branch.
    for (const m of edits) expect((await branch(viewer, c.id, m.id)).nodes.map((n: any) => n.id)).toEqual([root.id, m.id]);
  });

  it('an edit while another branch generates: REJECT refuses, INTERRUPT cancels it and goes on', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const [u] = await turn(viewer, c.id, 'short');
    const { sendMessage } = await t.gql(SEND, { input: { conversationId: c.id, content: 'long '.repeat(2000) } }, viewer);
    expectErrorCode((await t.request(EDIT, { input: { messageId: u, content: 'edited' } }, viewer)).body, 'GENERATION_IN_PROGRESS');
    const before = await branch(viewer, c.id);
    expect(before.nodes).toHaveLength(4); // nothing stored by the refused edit
    const edited = (await t.gql(EDIT, { input: { messageId: u, content: 'edited', onActiveGeneration: 'INTERRUPT' } }, viewer)).editMessage;
    expect((await waitForMessageStatus(gqlAs(viewer), sendMessage.assistantMessage.id, 'CANCELLED')).status).toBe('CANCELLED');
    expect((await waitForMessageStatus(gqlAs(viewer), edited.assistantMessage.id, 'COMPLETED')).content).toBe('edited');
  });
});

describe('idempotency', () => {
  it('a retried edit or regeneration returns the first result and adds nothing', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const [u, a] = await turn(viewer, c.id, 'hi');
    const edit = { messageId: u, content: 'hello', idempotencyKey: 'edit-1' };
    const first = (await t.gql(EDIT, { input: edit }, viewer)).editMessage;
    await waitForMessageStatus(gqlAs(viewer), first.assistantMessage.id, 'COMPLETED');
    const again = (await t.gql(EDIT, { input: edit }, viewer)).editMessage;
    expect([again.userMessage.id, again.assistantMessage.id]).toEqual([first.userMessage.id, first.assistantMessage.id]);
    expectErrorCode((await t.request(EDIT, { input: { ...edit, content: 'other' } }, viewer)).body, 'CONFLICT');

    const regenerate = { messageId: a, idempotencyKey: 'regen-1' };
    const r1 = (await t.gql(REGENERATE, { input: regenerate }, viewer)).regenerateMessage.assistantMessage;
    await waitForMessageStatus(gqlAs(viewer), r1.id, 'COMPLETED');
    const r2 = (await t.gql(REGENERATE, { input: regenerate }, viewer)).regenerateMessage.assistantMessage;
    expect(r2.id).toBe(r1.id);
    const { node } = await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { siblingCount } } }`, { id: a }, viewer);
    expect(node.siblingCount).toBe(2);
  });
});

describe('refusals and tenancy', () => {
  it('every new mutation and argument refuses another owner\'s messages, and wrong kinds, storing nothing', async () => {
    const owner = await t.viewer();
    const other = await t.viewer();
    const c = await createConversation(t, owner, { model: 'builtin:echo' });
    const [u, a] = await turn(owner, c.id, 'mine');
    const elsewhere = await createConversation(t, owner);
    const stranger = await createConversation(t, other);
    const before = await branch(owner, c.id);

    for (const [query, input] of [
      [EDIT, { messageId: u, content: 'x' }],
      [REGENERATE, { messageId: a }],
      [FORK, { messageId: u }],
    ] as const) {
      expectErrorCode((await t.request(query, { input }, other)).body, 'NOT_FOUND');
    }
    expectErrorCode((await t.request(SWITCH, { id: u }, other)).body, 'NOT_FOUND');
    // Naming the owner's message from the other's own conversation.
    expectErrorCode((await t.request(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`, { input: { conversationId: stranger.id, role: 'USER', content: 'x', parentMessageId: u } }, other)).body, 'NOT_FOUND');
    expectErrorCode((await t.request(SEND, { input: { conversationId: stranger.id, content: 'x', parentMessageId: u } }, other)).body, 'NOT_FOUND');
    expectErrorCode((await t.request(BRANCH, { id: stranger.id, leaf: u }, other)).body, 'NOT_FOUND');
    // The owner's own message, of another conversation.
    expectErrorCode((await t.request(`mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`, { input: { conversationId: elsewhere.id, role: 'USER', content: 'x', parentMessageId: u } }, owner)).body, 'BAD_USER_INPUT');
    expectErrorCode((await t.request(BRANCH, { id: elsewhere.id, leaf: u }, owner)).body, 'BAD_USER_INPUT');
    // Wrong kinds: an assistant message is not edited, a user message not regenerated, a conversation is no message.
    expectErrorCode((await t.request(EDIT, { input: { messageId: a, content: 'x' } }, owner)).body, 'BAD_USER_INPUT');
    expectErrorCode((await t.request(EDIT, { input: { messageId: u, content: '  ' } }, owner)).body, 'BAD_USER_INPUT');
    expectErrorCode((await t.request(REGENERATE, { input: { messageId: u } }, owner)).body, 'BAD_USER_INPUT');
    expectErrorCode((await t.request(SWITCH, { id: c.id }, owner)).body, 'BAD_USER_INPUT');

    expect(await branch(owner, c.id)).toEqual(before);
    const others = await t.gql(`{ conversations(first: 10) { edges { node { id messageCount } } } }`, {}, other);
    expect(others.conversations.edges).toEqual([{ node: { id: stranger.id, messageCount: 0 } }]);
  });

  it('edits and regenerations of an archived conversation are refused as sends are', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const [u, a] = await turn(viewer, c.id, 'x');
    await t.gql(`mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { id } } }`, { id: c.id }, viewer);
    expectErrorCode((await t.request(EDIT, { input: { messageId: u, content: 'y' } }, viewer)).body, 'NOT_FOUND');
    expectErrorCode((await t.request(REGENERATE, { input: { messageId: a } }, viewer)).body, 'NOT_FOUND');
    // Reading and forking an archived conversation's branch still work.
    expect((await t.gql(FORK, { input: { messageId: a } }, viewer)).forkConversation.conversation.messageCount).toBe(2);
  });
});

describe('events', () => {
  it('MESSAGE_ADDED for new siblings, CONVERSATION_UPDATED when the branch shown changes, on the chat and in the sidebar', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const [u] = await turn(viewer, c.id, 'x');
    const client = wsClient(server, viewer);
    const chat = subscribe(client, `subscription($id: ID!) { conversationEvents(conversationId: $id) { type message { id content } conversation { currentMessage { id } } } }`, { id: c.id });
    const sidebar = subscribe(client, `subscription { conversationsChanged { type conversation { id messageCount } } }`);
    await new Promise((r) => setTimeout(r, 150));
    const edited = (await t.gql(EDIT, { input: { messageId: u, content: 'y', generate: false } }, viewer)).editMessage;
    await t.gql(SWITCH, { id: u }, viewer);
    const events = (await chat.next(2)).map((r) => r.data.conversationEvents);
    expect(events).toEqual([
      { type: 'MESSAGE_ADDED', message: { id: edited.userMessage.id, content: 'y' }, conversation: { currentMessage: { id: expect.any(String) } } },
      { type: 'CONVERSATION_UPDATED', message: null, conversation: { currentMessage: { id: expect.any(String) } } },
    ]);
    const changes = (await sidebar.next(2)).map((r) => r.data.conversationsChanged);
    expect(changes.map((e) => e.type)).toEqual(['MESSAGE_ADDED', 'CONVERSATION_UPDATED']);
    expect(changes[1].conversation).toEqual({ id: c.id, messageCount: 2 });
    await client.dispose();
  });
});
