// Agent turns through each provider package against a local server speaking that vendor's streaming wire
// format: two parallel tool calls, then the results sent back in the vendor's own form; reasoning, then
// text; an error in the middle of a tool call; and Anthropic's signed thinking blocks sent back on the next
// turn, with tool history accepted on a turn that offers no tools.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, startTestApp, subscribe, waitForMessageStatus, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';
import { startFakeAnthropic, type FakeAnthropic } from './fake-anthropic.ts';
import type { RunningServer } from '../src/server.ts';

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let t: TestApp;
let server: RunningServer;

beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
  t = await startTestApp({
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: openai.baseURL,
    OPENAI_MODELS: 'gpt-test',
    OPENAI_COMPATIBLE_BASE_URL: openai.baseURL,
    OPENAI_COMPATIBLE_NAME: 'local',
    OPENAI_COMPATIBLE_MODELS: 'reasoner',
    ANTHROPIC_API_KEY: 'sk-ant-test',
    ANTHROPIC_BASE_URL: anthropic.baseURL,
    ANTHROPIC_MODELS: 'claude-test',
  });
  server = await t.listen();
});
afterAll(async () => {
  await t.close();
  await openai.close();
  await anthropic.close();
});

const WEATHER = { name: 'weather', description: 'The weather in a city.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const EVENTS = `__typename sequenceNumber messageId
  ... on MessageDelta { delta }
  ... on MessageReasoningDelta { delta }
  ... on MessageToolCallDelta { toolCallId name argumentsDelta }
  ... on MessageToolCall { toolCall { id name arguments } }
  ... on MessageCompleted { message { status content reasoning finishReason toolCalls } }
  ... on MessageFailed { code error message { status content toolCalls finishReason } }`;
const CHAT = `subscription($input: SendMessageInput!) { chat(input: $input) { ${EVENTS} } }`;
const SUBMIT = `mutation($input: SubmitToolResultsInput!) { submitToolResults(input: $input) { assistantMessage { id } } }`;

async function chat(viewer: TestViewer, input: Record<string, unknown>) {
  const client = wsClient(server, viewer);
  const events = (await subscribe(client, CHAT, { input }).all()).map((r) => {
    expect(r.errors, JSON.stringify(r)).toBeUndefined();
    return r.data.chat;
  });
  await client.dispose();
  return events;
}

const parallelCalls = [
  { id: 'call_paris', name: 'weather', pieces: ['{"ci', 'ty": "Pa', 'ris"}'] },
  { id: 'call_rome', name: 'weather', pieces: ['{"city"', ': "Rome"}'] },
];

/** The events of two parallel calls, in order, and their concatenated argument pieces. */
function expectTwoCalls(events: any[]) {
  expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
  const calls = events.filter((e) => e.__typename === 'MessageToolCall').map((e) => e.toolCall);
  expect(calls).toEqual([
    { id: 'call_paris', name: 'weather', arguments: '{"city": "Paris"}' },
    { id: 'call_rome', name: 'weather', arguments: '{"city": "Rome"}' },
  ]);
  for (const call of calls) {
    const pieces = events.filter((e) => e.__typename === 'MessageToolCallDelta' && e.toolCallId === call.id);
    expect(pieces.map((e) => e.argumentsDelta).join('')).toBe(call.arguments);
    expect(pieces.every((e) => e.name === 'weather')).toBe(true);
  }
  expect(events.at(-1).message).toMatchObject({
    status: 'COMPLETED',
    finishReason: 'TOOL_CALLS',
    toolCalls: calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })),
  });
}

describe.each([
  ['OpenAI Chat Completions', 'openai:gpt-test', 'gpt-test'],
  ['an OpenAI-compatible server', 'local:reasoner', 'reasoner'],
])('%s', (_name, model, vendorModel) => {
  it('two parallel tool calls, then the results sent back as tool messages', async () => {
    openai.script(vendorModel, { tokens: ['Let me check. '], toolCalls: parallelCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.pieces })) });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model, tools: [WEATHER] });
    const events = await chat(viewer, { conversationId: c.id, content: 'Paris or Rome?' });
    expectTwoCalls(events);
    expect(events.at(-1).message.content).toBe('Let me check. ');
    const request = openai.requests.at(-1)!.body;
    expect(request.tools).toEqual([{ type: 'function', function: { name: 'weather', description: WEATHER.description, parameters: WEATHER.parameters } }]);

    openai.script(vendorModel, { tokens: ['Paris is warmer.'] });
    const { submitToolResults } = await t.gql(SUBMIT, {
      input: { messageId: events[0].messageId, results: [{ toolCallId: 'call_rome', content: '18 C' }, { toolCallId: 'call_paris', content: '21 C' }] },
    }, viewer);
    expect((await waitForMessageStatus((q, v) => t.gql(q, v, viewer), submitToolResults.assistantMessage.id, 'COMPLETED')).content).toBe('Paris is warmer.');
    const next = openai.requests.at(-1)!.body.messages;
    expect(next.slice(-3)).toEqual([
      {
        role: 'assistant',
        content: 'Let me check. ',
        tool_calls: [
          { id: 'call_paris', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_rome', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_paris', content: '21 C' },
      { role: 'tool', tool_call_id: 'call_rome', content: '18 C' },
    ]);
  });

  it('an error in the middle of a tool call fails the message, keeping no half call', async () => {
    openai.script(vendorModel, { toolCalls: [{ id: 'call_x', name: 'weather', arguments: ['{"city"', ': "Oslo"}'] }], errorInToolCall: true });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model, tools: [WEATHER] });
    const events = await chat(viewer, { conversationId: c.id, content: 'Oslo?' });
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', toolCalls: null, finishReason: 'ERROR' } });
  });
});

describe('an OpenAI-compatible server that reasons', () => {
  it('streams reasoning_content as reasoning, then the text; the reasoning is not sent back', async () => {
    openai.script('reasoner', { reasoning: ['Hmm, ', 'two plus two.'], tokens: ['Four.'] });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'local:reasoner' });
    const events = await chat(viewer, { conversationId: c.id, content: '2+2?' });
    expect(events.filter((e) => e.__typename === 'MessageReasoningDelta').map((e) => e.delta).join('')).toBe('Hmm, two plus two.');
    expect(events.at(-1).message).toMatchObject({ content: 'Four.', reasoning: 'Hmm, two plus two.', finishReason: 'STOP' });
    openai.script('reasoner', { tokens: ['Yes.'] });
    await chat(viewer, { conversationId: c.id, content: 'Sure?' });
    expect(JSON.stringify(openai.requests.at(-1)!.body.messages)).not.toContain('two plus two');
  });
});

describe('Anthropic', () => {
  it('two parallel tool_use blocks, then the results sent back as tool_result blocks', async () => {
    anthropic.script('claude-test', { tokens: ['Checking. '], toolUses: parallelCalls.map((c) => ({ id: c.id, name: c.name, input: c.pieces })) });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'anthropic:claude-test', tools: [WEATHER] });
    const events = await chat(viewer, { conversationId: c.id, content: 'Paris or Rome?' });
    expectTwoCalls(events);
    expect(anthropic.requests.at(-1)!.body.tools).toEqual([expect.objectContaining({ name: 'weather', description: WEATHER.description, input_schema: WEATHER.parameters })]);

    anthropic.script('claude-test', { tokens: ['Paris.'] });
    const { submitToolResults } = await t.gql(SUBMIT, {
      input: { messageId: events[0].messageId, results: [{ toolCallId: 'call_paris', content: '21 C' }, { toolCallId: 'call_rome', content: 'no data', isError: true }] },
    }, viewer);
    await waitForMessageStatus((q, v) => t.gql(q, v, viewer), submitToolResults.assistantMessage.id, 'COMPLETED');
    const messages = anthropic.requests.at(-1)!.body.messages;
    expect(messages.at(-2)).toMatchObject({
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking. ' },
        { type: 'tool_use', id: 'call_paris', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_rome', name: 'weather', input: { city: 'Rome' } },
      ],
    });
    expect(messages.at(-1)).toMatchObject({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_paris', content: '21 C' },
        { type: 'tool_result', tool_use_id: 'call_rome', content: 'no data', is_error: true },
      ],
    });
  });

  it('keeps thinking with its signature and sends it back; tool history goes out even with no tool offered', async () => {
    anthropic.script('claude-test', { thinking: { text: ['Let me ', 'think.'], signature: 'sig-123' }, tokens: [''], toolUses: [{ id: 'call_1', name: 'weather', input: ['{"city": "Lima"}'] }] });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'anthropic:claude-test', tools: [WEATHER] });
    const events = await chat(viewer, { conversationId: c.id, content: 'Lima?' });
    expect(events.filter((e) => e.__typename === 'MessageReasoningDelta').map((e) => e.delta).join('')).toBe('Let me think.');
    expect(events.at(-1).message).toMatchObject({ reasoning: 'Let me think.', finishReason: 'TOOL_CALLS' });

    anthropic.script('claude-test', { tokens: ['Warm.'] });
    const { submitToolResults } = await t.gql(SUBMIT, { input: { messageId: events[0].messageId, results: [{ toolCallId: 'call_1', content: '25 C' }], toolChoice: 'NONE' } }, viewer);
    await waitForMessageStatus((q, v) => t.gql(q, v, viewer), submitToolResults.assistantMessage.id, 'COMPLETED');
    const request = anthropic.requests.at(-1)!.body;
    expect(request.messages.at(-2).content[0]).toEqual({ type: 'thinking', thinking: 'Let me think.', signature: 'sig-123' });
    // No tool offered on this turn, yet the history holds a tool_use: the tool is defined, and none may be called.
    expect(request.tools.map((tool: { name: string }) => tool.name)).toEqual(['weather']);
    expect(request.tool_choice).toEqual({ type: 'none' });
  });

  it('an error in the middle of a tool_use fails the message, keeping no half call', async () => {
    anthropic.script('claude-test', { toolUses: [{ id: 'call_x', name: 'weather', input: ['{"city"', ': "Oslo"}'] }], errorInToolUse: true });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'anthropic:claude-test', tools: [WEATHER] });
    const events = await chat(viewer, { conversationId: c.id, content: 'Oslo?' });
    expect(events.at(-1)).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', toolCalls: null } });
  });
});
