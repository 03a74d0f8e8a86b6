// The Anthropic provider (the AI SDK's @ai-sdk/anthropic) against a local server speaking Anthropic's
// Messages streaming wire format: a reply with usage, an error event mid-stream, an HTTP error, cancel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, startTestApp, subscribe, wsClient, type TestApp } from './helpers.ts';
import { startFakeAnthropic, type FakeAnthropic } from './fake-anthropic.ts';
import type { RunningServer } from '../src/server.ts';

let t: TestApp;
let server: RunningServer;
let vendor: FakeAnthropic;

const CHAT = /* GraphQL */ `subscription($input: SendMessageInput!) { chat(input: $input) {
  __typename sequenceNumber
  ... on MessageDelta { delta }
  ... on MessageCompleted { message { status content model usage { promptTokens completionTokens totalTokens } } }
  ... on MessageFailed { code error message { status content error } }
} }`;
const CANCEL = `mutation($id: ID!) { cancelGeneration(input: { messageId: $id }) { message { status content } } }`;

const eventsOf = (results: any[]) => results.map((r) => (expect(r.errors, JSON.stringify(r)).toBeUndefined(), r.data.chat));
const deltas = (events: any[]) => events.filter((e) => e.__typename === 'MessageDelta').map((e) => e.delta).join('');

describe('the Anthropic provider', () => {
  beforeAll(async () => {
    vendor = await startFakeAnthropic();
    t = await startTestApp({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: vendor.baseURL, ANTHROPIC_MODELS: 'claude-test,claude-slow', PROVIDER_TIMEOUT_MS: '10000' });
    server = await t.listen();
  });
  afterAll(async () => {
    await t.close();
    await vendor.close();
  });

  async function chat(model: string, content: string, systemPrompt?: string) {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model, ...(systemPrompt ? { systemPrompt } : {}) });
    const client = wsClient(server, viewer);
    const events = eventsOf(await subscribe(client, CHAT, { input: { conversationId: c.id, content } }).all());
    await client.dispose();
    return events;
  }

  it('streams a reply with its usage, sending the system prompt, the key and the API version', async () => {
    vendor.script('claude-test', { tokens: ['Bonjour', ', ', 'le ', 'monde.'], usage: { input: 17, output: 4 } });
    const events = await chat('anthropic:claude-test', 'Say hello in French.', 'Be brief.');

    expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
    const done = events.at(-1);
    expect(done.__typename).toBe('MessageCompleted');
    expect(done.message).toMatchObject({ status: 'COMPLETED', content: 'Bonjour, le monde.', model: 'anthropic:claude-test', usage: { promptTokens: 17, completionTokens: 4, totalTokens: 21 } });
    expect(deltas(events)).toBe('Bonjour, le monde.');

    const request = vendor.requests.at(-1)!;
    expect(request.headers['x-api-key']).toBe('sk-ant-test');
    expect(request.headers['anthropic-version']).toBeTruthy();
    expect(request.body).toMatchObject({ model: 'claude-test', stream: true, system: [{ type: 'text', text: 'Be brief.' }] });
    expect(request.body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Say hello in French.' }] }]);
  });

  it('an error event mid-stream fails the message with its partial text', async () => {
    vendor.script('claude-test', { tokens: ['one ', 'two ', 'three ', 'four'], errorAfter: 2, delayMs: 5 });
    const events = await chat('anthropic:claude-test', 'count');
    const failed = events.at(-1);
    expect(failed).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content: 'one two ' } });
    expect(failed.error).toMatch(/provider/i);
    expect(deltas(events)).toBe('one two ');
  });

  it('an HTTP error fails the message, saying so', async () => {
    vendor.script('claude-test', { status: 500 });
    const failed = (await chat('anthropic:claude-test', 'hello')).at(-1);
    expect(failed).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content: '' } });
    expect(failed.error).toMatch(/HTTP 500/);
  });

  it.each([
    ['ends cleanly before message_stop', { endWithoutStop: true }, 'cut short'],
    ['answers 200 with a JSON message, not a stream', { notAStream: true }, ''],
  ])('an answer that %s fails the message: it is cut off, not complete', async (_, script, content) => {
    vendor.script('claude-test', { tokens: ['cut ', 'short'], ...script });
    const failed = (await chat('anthropic:claude-test', 'hello')).at(-1);
    expect(failed).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content } });
    expect(failed.error).toBe("The model provider's answer ended before the reply did.");
  });

  it('two tool calls with one id fail the message as the second begins', async () => {
    const use = { id: 'toolu_same', name: 'lookup', input: ['{}'] };
    vendor.script('claude-test', { tokens: ['calling'], toolUses: [use, { ...use, name: 'other' }, use] });
    const failed = (await chat('anthropic:claude-test', 'hello')).at(-1);
    expect(failed).toMatchObject({ __typename: 'MessageFailed', code: 'PROVIDER_ERROR', message: { status: 'FAILED', content: 'calling' } });
    expect(failed.error).toBe('The model provider sent two tool calls with one id in one reply.');
  });

  it('cancelGeneration closes the upstream connection and keeps the partial text', async () => {
    vendor.script('claude-slow', { tokens: Array.from({ length: 200 }, (_, i) => `t${i} `), delayMs: 20 });
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { model: 'anthropic:claude-slow' });
    const client = wsClient(server, viewer);
    const sub = subscribe(client, CHAT, { input: { conversationId: c.id, content: 'long' } });
    await sub.next(4);
    const messageId = (await t.gql(`query($id: ID!) { conversation(id: $id) { activeGeneration { id } } }`, { id: c.id }, viewer)).conversation.activeGeneration.id;
    const cancelled = (await t.gql(CANCEL, { id: messageId }, viewer)).cancelGeneration.message;
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.content.length).toBeGreaterThan(0);
    expect(await vendor.requests.at(-1)!.abortedByClient).toBe(true);
    const events = eventsOf(await sub.all());
    expect(deltas(events)).toBe(cancelled.content);
    await client.dispose();
  });
});
