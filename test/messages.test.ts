import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPEND_MESSAGE, appendMessage, createConversation, expectErrorCode, startTestApp, type TestApp } from './helpers.ts';
import { countTokens } from '../src/tokens.ts';

let t: TestApp;
beforeAll(async () => (t = await startTestApp()));
afterAll(() => t.close());

const MESSAGES = /* GraphQL */ `
  query($id: ID!, $first: Int, $roles: [MessageRole!]) {
    conversation(id: $id) {
      messageCount totalTokens preview
      messages(first: $first, roles: $roles) { totalCount edges { node { position role content tokens toolCallId toolCalls } } }
    }
  }`;

describe('appendMessage', () => {
  it('stores the message as given and moves the conversation counters', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const first = await appendMessage(t, viewer, c.id, { content: 'What is the capital of France?', metadata: { client: 'web' } });
    expect(first.message).toMatchObject({
      position: 1, role: 'USER', status: 'COMPLETED', content: 'What is the capital of France?',
      metadata: { client: 'web' }, tokens: await countTokens('What is the capital of France?'),
    });
    expect(first.message.completedAt).not.toBeNull();
    const second = await appendMessage(t, viewer, c.id, { role: 'ASSISTANT', content: 'Paris. '.repeat(30), tokens: 7 });
    expect(second.message.position).toBe(2);
    expect(second.conversation).toMatchObject({
      messageCount: 2,
      totalTokens: first.message.tokens + 7,
      preview: 'Paris. '.repeat(30).slice(0, 100),
      version: 1, // message activity moves updatedAt, not the version
    });
    expect(Date.parse(second.conversation.updatedAt)).toBeGreaterThan(Date.parse(c.updatedAt));
    expect(second.conversation.lastMessageAt).toBe(second.message.createdAt);
  });

  it('keeps positions gapless and counters exact under concurrent appends', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const N = 30;
    await Promise.all(Array.from({ length: N }, (_, i) => appendMessage(t, viewer, c.id, { content: `m${i}`, tokens: i })));
    const data = await t.gql(MESSAGES, { id: c.id, first: 100 }, viewer);
    const positions = data.conversation.messages.edges.map((e: any) => e.node.position);
    expect(positions).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(data.conversation.messageCount).toBe(N);
    expect(data.conversation.totalTokens).toBe((N * (N - 1)) / 2);
    expect(new Set(data.conversation.messages.edges.map((e: any) => e.node.content)).size).toBe(N);
  });

  it('stores tool calls and tool results in OpenAI shape', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }];
    const call = await appendMessage(t, viewer, c.id, { role: 'ASSISTANT', content: '', toolCalls });
    expect(call.message.toolCalls).toEqual(toolCalls);
    const result = await appendMessage(t, viewer, c.id, { role: 'TOOL', content: '{"temp":21}', toolCallId: 'call_1' });
    expect(result.message).toMatchObject({ role: 'TOOL', toolCallId: 'call_1', position: 2 });
  });

  it.each([
    ['content over the maximum', { content: 'x'.repeat(100_001) }, 'content'],
    ['a TOOL message without toolCallId', { role: 'TOOL' }, 'toolCallId'],
    ['toolCallId on a USER message', { toolCallId: 'call_1' }, 'toolCallId'],
    ['toolCalls on a USER message', { toolCalls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] }, 'toolCalls'],
    ['toolCalls of the wrong shape', { role: 'ASSISTANT', toolCalls: [{ id: 'a', function: { name: 'f' } }] }, 'toolCalls'],
    ['toolCalls that are not a list', { role: 'ASSISTANT', toolCalls: { id: 'a' } }, 'toolCalls'],
    ['two toolCalls with one id', { role: 'ASSISTANT', toolCalls: ['f', 'g'].map((name) => ({ id: 'a', type: 'function', function: { name, arguments: '{}' } })) }, 'toolCalls'],
    ['negative tokens', { tokens: -1 }, 'tokens'],
    ['metadata that is not an object', { metadata: 3 }, 'metadata'],
  ])('refuses %s and writes nothing', async (_name, input, field) => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const { body } = await t.request(APPEND_MESSAGE, { input: { conversationId: c.id, role: 'USER', content: 'hi', ...input } }, viewer);
    expect(expectErrorCode(body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe(field);
    const data = await t.gql(MESSAGES, { id: c.id }, viewer);
    expect(data.conversation).toMatchObject({ messageCount: 0, totalTokens: 0, preview: null });
  });

  it('accepts content of exactly the maximum length', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const { message } = await appendMessage(t, viewer, c.id, { content: 'y'.repeat(100_000), tokens: 1 });
    expect(message.content).toHaveLength(100_000);
  });

  it('takes messages only in ACTIVE conversations', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    await t.gql(`mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { id } } }`, { id: c.id }, viewer);
    const { body } = await t.request(APPEND_MESSAGE, { input: { conversationId: c.id, role: 'USER', content: 'hi' } }, viewer);
    expectErrorCode(body, 'NOT_FOUND');
  });

  it('is idempotent: a retried append with the same key creates nothing new', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const input = { content: 'only once', idempotencyKey: 'append-1' };
    const results = await Promise.all([1, 2, 3].map(() => appendMessage(t, viewer, c.id, input)));
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    const data = await t.gql(MESSAGES, { id: c.id }, viewer);
    expect(data.conversation.messageCount).toBe(1);
    const { body } = await t.request(APPEND_MESSAGE, { input: { conversationId: c.id, role: 'USER', content: 'other', idempotencyKey: 'append-1' } }, viewer);
    expectErrorCode(body, 'CONFLICT');
  });

  it('filters by role and counts the filtered total', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    for (const role of ['USER', 'ASSISTANT', 'USER', 'ASSISTANT', 'SYSTEM']) await appendMessage(t, viewer, c.id, { role, content: role });
    const data = await t.gql(MESSAGES, { id: c.id, roles: ['ASSISTANT'] }, viewer);
    expect(data.conversation.messages.totalCount).toBe(2);
    expect(data.conversation.messages.edges.map((e: any) => e.node.position)).toEqual([2, 4]);
  });
});

describe('contextWindow', () => {
  const WINDOW = /* GraphQL */ `query($id: ID!, $max: Int!) { conversation(id: $id) { contextWindow(maxTokens: $max) { id position role content tokens } } }`;

  it('keeps the system prompt and drops the oldest whole turns first', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { systemPrompt: 'You are terse.' });
    const turns = [
      ['USER', 10], ['ASSISTANT', 10],
      ['USER', 10], ['ASSISTANT', 5], ['TOOL', 5],
      ['USER', 10], ['ASSISTANT', 10],
    ] as const;
    // A window counts what the server counts (n words of "cat" are n tokens), whatever a client says.
    for (const [role, tokens] of turns) {
      await appendMessage(t, viewer, c.id, { role, tokens: 1, content: Array(tokens).fill('cat').join(' '), ...(role === 'TOOL' ? { toolCallId: 'c1' } : {}) });
    }
    const system = await countTokens('You are terse.');
    const window = async (max: number) => (await t.gql(WINDOW, { id: c.id, max }, viewer)).conversation.contextWindow;

    const all = await window(1000);
    expect(all.map((m: any) => m.position)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(all[0]).toMatchObject({ role: 'SYSTEM', content: 'You are terse.', tokens: system });

    // Room for the last two turns (20 + 20) but not the first: it goes whole.
    expect((await window(system + 40)).map((m: any) => m.position)).toEqual([0, 3, 4, 5, 6, 7]);
    // Room for less than the last turn: its newest messages that fit.
    expect((await window(system + 12)).map((m: any) => m.position)).toEqual([0, 7]);
    // Smaller than the system prompt alone: the system prompt is still kept.
    expect((await window(1)).map((m: any) => m.position)).toEqual([0]);
  });

  it('refuses maxTokens below 1', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    expectErrorCode((await t.request(WINDOW, { id: c.id, max: 0 }, viewer)).body, 'BAD_USER_INPUT');
  });
});

describe('chat sessions', () => {
  const CREATE = `mutation($id: ID!, $model: String!) { createChatSession(input: { conversationId: $id, model: $model }) { chatSession { id model status createdAt updatedAt conversation { id } } } }`;
  const COMPLETE = `mutation($id: ID!) { completeChatSession(input: { id: $id }) { chatSession { id status updatedAt } } }`;

  it('creates, collects its messages, completes, and refuses messages once completed', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const session = (await t.gql(CREATE, { id: c.id, model: 'builtin:echo' }, viewer)).createChatSession.chatSession;
    expect(session).toMatchObject({ model: 'builtin:echo', status: 'ACTIVE', conversation: { id: c.id } });

    await appendMessage(t, viewer, c.id, { content: 'outside' });
    const inside = await appendMessage(t, viewer, c.id, { content: 'inside', chatSessionId: session.id });
    expect(inside.message.chatSession).toEqual({ id: session.id });

    const data = await t.gql(
      `query($id: ID!) { node(id: $id) { ... on ChatSession { updatedAt messages { totalCount edges { node { content position } } } } } }`,
      { id: session.id },
      viewer,
    );
    expect(data.node.messages).toEqual({ totalCount: 1, edges: [{ node: { content: 'inside', position: 2 } }] });
    expect(Date.parse(data.node.updatedAt)).toBeGreaterThan(Date.parse(session.updatedAt));

    const completed = (await t.gql(COMPLETE, { id: session.id }, viewer)).completeChatSession.chatSession;
    expect(completed.status).toBe('COMPLETED');
    expect((await t.gql(COMPLETE, { id: session.id }, viewer)).completeChatSession.chatSession).toEqual(completed);
    const { body } = await t.request(APPEND_MESSAGE, { input: { conversationId: c.id, role: 'USER', content: 'late', chatSessionId: session.id } }, viewer);
    expect(expectErrorCode(body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe('chatSessionId');
  });

  it('refuses an unknown model and a session of another conversation', async () => {
    const viewer = await t.viewer();
    const a = await createConversation(t, viewer);
    const b = await createConversation(t, viewer);
    expectErrorCode((await t.request(CREATE, { id: a.id, model: 'nope:nope' }, viewer)).body, 'BAD_USER_INPUT');
    const session = (await t.gql(CREATE, { id: a.id, model: 'builtin:echo' }, viewer)).createChatSession.chatSession;
    const { body } = await t.request(APPEND_MESSAGE, { input: { conversationId: b.id, role: 'USER', content: 'x', chatSessionId: session.id } }, viewer);
    expectErrorCode(body, 'BAD_USER_INPUT');
  });

  it('lists a conversation\'s sessions oldest first, in pages both ways', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.gql(CREATE, { id: c.id, model: 'builtin:echo' }, viewer)).createChatSession.chatSession.id);
    const page = async (args: string) =>
      (await t.gql(`query($id: ID!) { conversation(id: $id) { chatSessions(${args}) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { id } } } } }`, { id: c.id }, viewer))
        .conversation.chatSessions;
    const first = await page('first: 2');
    expect(first.edges.map((e: any) => e.node.id)).toEqual(ids.slice(0, 2));
    expect(first).toMatchObject({ totalCount: 5, pageInfo: { hasNextPage: true } });
    const next = await page(`first: 10, after: "${first.pageInfo.endCursor}"`);
    expect(next.edges.map((e: any) => e.node.id)).toEqual(ids.slice(2));
    expect(next.pageInfo.hasNextPage).toBe(false);
    const last = await page('last: 2');
    expect(last.edges.map((e: any) => e.node.id)).toEqual(ids.slice(3));
    expect(last.pageInfo.hasPreviousPage).toBe(true);
    const before = await page(`last: 2, before: "${last.pageInfo.startCursor}"`);
    expect(before.edges.map((e: any) => e.node.id)).toEqual(ids.slice(1, 3));
  });
});
