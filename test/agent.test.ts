// Agent turns with builtin:echo's agent mode, over graphql-ws and SSE: tools on conversations and turns,
// tool calls and reasoning streamed and stored, the loop through submitToolResults and generateReply, and
// everything refused that should be, with nothing stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, expectErrorCode, sseSubscribe, startTestApp, subscribe, waitFor, waitForMessageStatus, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let t: TestApp;
let server: RunningServer;
beforeAll(async () => {
  t = await startTestApp({ ECHO_DELAY_MS: '2' });
  server = await t.listen();
});
afterAll(() => t.close());

const LOOKUP = { name: 'lookup', description: 'Looks a word up.', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } };
const EVENTS = `__typename sequenceNumber
  ... on MessageDelta { delta }
  ... on MessageReasoningDelta { delta }
  ... on MessageToolCallDelta { toolCallId name argumentsDelta }
  ... on MessageToolCall { toolCall { id name arguments } }
  ... on MessageCompleted { message { id status content reasoning finishReason toolCalls usage { completionTokens reasoningTokens } } }`;
const CHAT = `subscription($input: SendMessageInput!) { chat(input: $input) { messageId ${EVENTS} } }`;
const STREAM = `subscription($id: ID!, $after: Int) { messageStream(messageId: $id, afterSequenceNumber: $after) { ${EVENTS} } }`;
const SUBMIT = `mutation($input: SubmitToolResultsInput!) { submitToolResults(input: $input) {
  toolMessages { id role content toolCallId isError position } assistantMessage { id status } conversation { messageCount } } }`;
const COUNT = `query($id: ID!) { conversation(id: $id) { messageCount } }`;

async function chat(viewer: TestViewer, input: Record<string, unknown>) {
  const client = wsClient(server, viewer);
  const events = (await subscribe(client, CHAT, { input }).all()).map((r) => {
    expect(r.errors, JSON.stringify(r)).toBeUndefined();
    return r.data.chat;
  });
  await client.dispose();
  return events;
}

async function follow(viewer: TestViewer, id: string, after?: number) {
  const client = wsClient(server, viewer);
  const events = (await subscribe(client, STREAM, { id, after }).all()).map((r) => r.data.messageStream);
  await client.dispose();
  return events;
}

describe('the loop with builtin:echo', () => {
  it('call → results → answer, over graphql-ws', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo', tools: [LOOKUP] });
    expect((await t.gql(`query($id: ID!) { conversation(id: $id) { tools { name description parameters } } }`, { id: c.id }, viewer)).conversation.tools).toEqual([LOOKUP]);

    const events = await chat(viewer, { conversationId: c.id, content: '/call lookup {"q": "sea"}' });
    expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
    const deltas = events.filter((e) => e.__typename === 'MessageToolCallDelta');
    const [call] = events.filter((e) => e.__typename === 'MessageToolCall');
    expect(deltas.length).toBeGreaterThan(1); // streamed in pieces
    expect(deltas.map((e) => e.argumentsDelta).join('')).toBe('{"q": "sea"}');
    expect(call.toolCall).toEqual({ id: deltas[0].toolCallId, name: 'lookup', arguments: '{"q": "sea"}' });
    expect(call.toolCall.id).toMatch(/^call_/);
    const done = events.at(-1);
    expect(done.message).toMatchObject({
      status: 'COMPLETED',
      content: '',
      finishReason: 'TOOL_CALLS',
      toolCalls: [{ id: call.toolCall.id, type: 'function', function: { name: 'lookup', arguments: '{"q": "sea"}' } }],
    });

    const submitted = (await t.gql(SUBMIT, { input: { messageId: done.message.id, results: [{ toolCallId: call.toolCall.id, content: 'a large body of salt water' }] } }, viewer))
      .submitToolResults;
    expect(submitted.toolMessages).toEqual([{ id: expect.any(String), role: 'TOOL', content: 'a large body of salt water', toolCallId: call.toolCall.id, isError: false, position: 3 }]);
    expect(submitted.assistantMessage.status).toBe('STREAMING');
    const answer = await follow(viewer, submitted.assistantMessage.id);
    expect(answer.at(-1).message).toMatchObject({ status: 'COMPLETED', content: 'lookup returned: a large body of salt water', finishReason: 'STOP' });
    expect((await t.gql(COUNT, { id: c.id }, viewer)).conversation.messageCount).toBe(4);
  });

  it('call → results → answer, over SSE', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const events = (await sseSubscribe(server.url, viewer, CHAT, { input: { conversationId: c.id, content: '/call lookup', tools: [LOOKUP] } })).map((r) => r.data.chat);
    const call = events.find((e) => e.__typename === 'MessageToolCall').toolCall;
    expect(call).toMatchObject({ name: 'lookup', arguments: '{}' });
    const { submitToolResults } = await t.gql(SUBMIT, { input: { messageId: events.at(-1).message.id, results: [{ toolCallId: call.id, content: 'nothing', isError: true }] } }, viewer);
    const answer = (await sseSubscribe(server.url, viewer, STREAM, { id: submitToolResults.assistantMessage.id })).map((r) => r.data.messageStream);
    expect(answer.at(-1).message.content).toBe('lookup returned: nothing');
  });

  it('streams reasoning apart from the content, and stores both', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const events = await chat(viewer, { conversationId: c.id, content: '/think the tides' });
    expect(events.filter((e) => e.__typename === 'MessageReasoningDelta').map((e) => e.delta).join('')).toBe('Thinking about: the tides');
    expect(events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('')).toBe('the tides');
    const kinds = events.map((e) => e.__typename);
    expect(kinds.lastIndexOf('MessageReasoningDelta')).toBeLessThan(kinds.indexOf('MessageDelta'));
    expect(events.at(-1).message).toMatchObject({ content: 'the tides', reasoning: 'Thinking about: the tides', finishReason: 'STOP' });
    expect(events.at(-1).message.usage.reasoningTokens).toBeGreaterThan(0);
  });

  it('answers Unknown tool for a tool the turn does not offer (NONE offers none)', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo', tools: [LOOKUP] });
    expect((await chat(viewer, { conversationId: c.id, content: '/call weather' })).at(-1).message.content).toBe('Unknown tool weather');
    expect((await chat(viewer, { conversationId: c.id, content: '/call lookup', toolChoice: 'NONE' })).at(-1).message.content).toBe('Unknown tool lookup');
  });

  it('replays a tool call from its middle, exactly the rest', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo', tools: [LOOKUP] });
    const events = await chat(viewer, { conversationId: c.id, content: '/call lookup {"q": "a longer word to look up"}' });
    const middle = events.find((e) => e.__typename === 'MessageToolCallDelta').sequenceNumber + 1;
    const rest = await follow(viewer, events[0].messageId, middle);
    expect(rest).toEqual(events.slice(middle + 1).map(({ messageId: _, ...event }) => event));
  });

  it('generateReply answers the conversation as it stands: tool results appended by hand', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const append = `mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`;
    await t.gql(append, { input: { conversationId: c.id, role: 'USER', content: 'what time is it?' } }, viewer);
    await t.gql(append, { input: { conversationId: c.id, role: 'ASSISTANT', content: '', toolCalls: [{ id: 'c1', type: 'function', function: { name: 'clock', arguments: '{}' } }] } }, viewer);
    await t.gql(append, { input: { conversationId: c.id, role: 'TOOL', content: '12:00', toolCallId: 'c1' } }, viewer);
    const { generateReply } = await t.gql(`mutation($c: ID!) { generateReply(input: { conversationId: $c, idempotencyKey: "gen-1" }) { assistantMessage { id } } }`, { c: c.id }, viewer);
    expect((await waitForMessageStatus((q, v) => t.gql(q, v, viewer), generateReply.assistantMessage.id, 'COMPLETED')).content).toBe('clock returned: 12:00');
    const again = await t.gql(`mutation($c: ID!) { generateReply(input: { conversationId: $c, idempotencyKey: "gen-1" }) { assistantMessage { id } } }`, { c: c.id }, viewer);
    expect(again.generateReply.assistantMessage.id).toBe(generateReply.assistantMessage.id);
    expect((await t.gql(COUNT, { id: c.id }, viewer)).conversation.messageCount).toBe(4);
  });
});

describe('submitToolResults', () => {
  /** A conversation whose last message is echo's call to `lookup` and to nothing else. */
  async function calling(viewer: TestViewer) {
    const c = await createConversation(t, viewer, { model: 'builtin:echo', tools: [LOOKUP] });
    const events = await chat(viewer, { conversationId: c.id, content: '/call lookup {"q": 1}' });
    return { c, messageId: events[0].messageId as string, callId: events.find((e) => e.__typename === 'MessageToolCall').toolCall.id as string };
  }

  it('refuses missing, unknown and repeated results, a message with no calls, another tenant, storing nothing', async () => {
    const viewer = await t.viewer();
    const { c, messageId, callId } = await calling(viewer);
    const submit = (input: Record<string, unknown>, who = viewer) => t.request(SUBMIT, { input: { messageId, ...input } }, who);
    expectErrorCode((await submit({ results: [] })).body, 'BAD_USER_INPUT');
    expectErrorCode((await submit({ results: [{ toolCallId: 'call_nope', content: 'x' }] })).body, 'BAD_USER_INPUT');
    expectErrorCode((await submit({ results: [{ toolCallId: callId, content: 'x' }, { toolCallId: callId, content: 'y' }] })).body, 'BAD_USER_INPUT');
    expectErrorCode((await submit({ results: [{ toolCallId: callId, content: 'x' }] }, await t.viewer())).body, 'NOT_FOUND');
    const userMessage = (await t.gql(`query($id: ID!) { conversation(id: $id) { messages(first: 1) { edges { node { id } } } } }`, { id: c.id }, viewer)).conversation.messages.edges[0].node.id;
    expectErrorCode((await t.request(SUBMIT, { input: { messageId: userMessage, results: [{ toolCallId: callId, content: 'x' }] } }, viewer)).body, 'BAD_USER_INPUT');
    expect((await t.gql(COUNT, { id: c.id }, viewer)).conversation.messageCount).toBe(2);
  });

  it('refuses to answer a message stored with two calls of one id (as no server now stores one), storing nothing', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const append = `mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id } } }`;
    const call = { id: 'c1', type: 'function', function: { name: 'clock', arguments: '{}' } };
    const { id } = (await t.gql(append, { input: { conversationId: c.id, role: 'ASSISTANT', content: '', toolCalls: [call] } }, viewer)).appendMessage.message;
    const rawId = Buffer.from(id, 'base64').toString().split(':')[1];
    await t.app.services.prisma.message.update({ where: { id: rawId }, data: { toolCalls: [call, call] } });
    const { body } = await t.request(SUBMIT, { input: { messageId: id, results: [{ toolCallId: 'c1', content: 'noon' }] } }, viewer);
    expect(expectErrorCode(body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe('messageId');
    expect((await t.gql(COUNT, { id: c.id }, viewer)).conversation.messageCount).toBe(1);
  });

  it('a refused turn with INTERRUPT stops nothing: results sent again, or a completed chat session, leave the running reply be', async () => {
    const viewer = await t.viewer();
    const { c, messageId, callId } = await calling(viewer);
    const results = [{ toolCallId: callId, content: Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ') }];
    const first = (await t.gql(SUBMIT, { input: { messageId, results } }, viewer)).submitToolResults.assistantMessage;
    const again = await t.request(SUBMIT, { input: { messageId, results, onActiveGeneration: 'INTERRUPT' } }, viewer);
    expectErrorCode(again.body, 'CONFLICT');

    const { createChatSession } = await t.gql(`mutation($c: ID!) { createChatSession(input: { conversationId: $c, model: "builtin:echo" }) { chatSession { id } } }`, { c: c.id }, viewer);
    await t.gql(`mutation($id: ID!) { completeChatSession(input: { id: $id }) { chatSession { status } } }`, { id: createChatSession.chatSession.id }, viewer);
    const inClosedSession = await t.request(
      `mutation($c: ID!, $s: ID!) { sendMessage(input: { conversationId: $c, content: "more", chatSessionId: $s, onActiveGeneration: INTERRUPT }) { assistantMessage { id } } }`,
      { c: c.id, s: createChatSession.chatSession.id },
      viewer,
    );
    expect(expectErrorCode(inClosedSession.body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe('chatSessionId');

    await waitFor(async () => (await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { status } } }`, { id: first.id }, viewer)).node.status !== 'STREAMING', 'the reply to end');
    expect((await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { status } } }`, { id: first.id }, viewer)).node.status).toBe('COMPLETED');
  });

  it('answers a retry with the same key with the first result; a second answer is a CONFLICT', async () => {
    const viewer = await t.viewer();
    const { c, messageId, callId } = await calling(viewer);
    const input = { messageId, results: [{ toolCallId: callId, content: 'once' }], generate: false, idempotencyKey: 'results-1' };
    const first = (await t.gql(SUBMIT, { input }, viewer)).submitToolResults;
    const retry = (await t.gql(SUBMIT, { input }, viewer)).submitToolResults;
    expect(retry).toEqual({ ...first, conversation: retry.conversation });
    expect(first.assistantMessage).toBeNull();
    expectErrorCode((await t.request(SUBMIT, { input: { ...input, idempotencyKey: 'results-2' } }, viewer)).body, 'CONFLICT');
    expect((await t.gql(COUNT, { id: c.id }, viewer)).conversation.messageCount).toBe(3);
  });

  it('a cancel while a call is being written keeps no half call', async () => {
    const slow = await startTestApp({ ECHO_DELAY_MS: '40' });
    const slowServer = await slow.listen();
    try {
      const viewer = await slow.viewer();
      const c = await createConversation(slow, viewer, { model: 'builtin:echo', tools: [LOOKUP] });
      const client = wsClient(slowServer, viewer);
      const sub = subscribe(client, CHAT, { input: { conversationId: c.id, content: '/call lookup {"q": "a call long enough to be cut in its middle"}' } });
      const [, firstPiece] = await sub.next(2);
      expect(firstPiece.data.chat.__typename).toBe('MessageToolCallDelta');
      const { cancelGeneration } = await slow.gql(`mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { status toolCalls finishReason content } } }`, { id: firstPiece.data.chat.messageId }, viewer);
      expect(cancelGeneration.message).toEqual({ status: 'CANCELLED', toolCalls: null, finishReason: null, content: '' });
      const events = (await sub.all()).map((r) => r.data.chat);
      expect(events.at(-1).__typename).toBe('MessageCompleted');
      expect(events.some((e) => e.__typename === 'MessageToolCall')).toBe(false);
      await client.dispose();
    } finally {
      await slow.close();
    }
  });
});

describe('tools input', () => {
  it.each([
    ['a bad name', [{ name: 'has space', parameters: { type: 'object' } }]],
    ['a name twice', [LOOKUP, LOOKUP]],
    ['parameters that are not an object schema', [{ name: 'f', parameters: { type: 'string' } }]],
    ['parameters that are not an object', [{ name: 'f', parameters: [1] }]],
    ['tools too large', [{ name: 'f', parameters: { type: 'object', description: 'x'.repeat(70_000) } }]],
  ])('refuses %s, storing nothing', async (_name, tools) => {
    const viewer = await t.viewer();
    const created = await t.request(`mutation($tools: [ToolInput!]) { createConversation(input: { tools: $tools }) { conversation { id } } }`, { tools }, viewer);
    expectErrorCode(created.body, 'BAD_USER_INPUT');
    const c = await createConversation(t, viewer, { model: 'builtin:echo' });
    const sent = await t.request(`mutation($c: ID!, $tools: [ToolInput!]) { sendMessage(input: { conversationId: $c, content: "hi", tools: $tools }) { assistantMessage { id } } }`, { c: c.id, tools }, viewer);
    expectErrorCode(sent.body, 'BAD_USER_INPUT');
    expect((await t.gql(`{ conversations { totalCount } }`, {}, viewer)).conversations.totalCount).toBe(1);
    expect((await t.gql(COUNT, { id: c.id }, viewer)).conversation.messageCount).toBe(0);
  });

  it('replaces the list with updateConversation; REQUIRED wants tools', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'builtin:echo', tools: [LOOKUP] });
    const updated = await t.gql(`mutation($id: ID!) { updateConversation(input: { id: $id, tools: [] }) { conversation { tools { name } version } } }`, { id: c.id }, viewer);
    expect(updated.updateConversation.conversation).toEqual({ tools: [], version: 2 });
    const required = await t.request(`mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "hi", toolChoice: REQUIRED }) { assistantMessage { id } } }`, { c: c.id }, viewer);
    expect(expectErrorCode(required.body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe('toolChoice');
  });
});
