// What one request may cost: counting tokens is linear and leaves room for other requests, whatever the
// text; tool calls have a size; text that looks like a tokenizer's special token is only text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';
import { appendMessage, createConversation, expectErrorCode, startTestApp, subscribe, waitFor, waitForMessageStatus, wsClient, type TestApp } from './helpers.ts';
import { CHUNK_CHARS, countTokens } from '../src/tokens.ts';
import { jsonBytes } from '../src/schema/costly.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

let seed = 7;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const text = (length: number, piece: () => string) => {
  let s = '';
  while (s.length < length) s += piece();
  return s.slice(0, length);
};
/** Worst cases for byte-pair encoding: one piece as long as the text. */
const hostile = {
  chinese: () => text(100_000, () => String.fromCharCode(0x4e00 + Math.floor(random() * 20_000))),
  letters: () => text(100_000, () => String.fromCharCode(97 + Math.floor(random() * 26))),
  whitespace: () => text(100_000, () => [' ', '\t', '\r', '\u3000'][Math.floor(random() * 4)]),
  emoji: () => text(100_000, () => String.fromCodePoint(0x1f300 + Math.floor(random() * 700))),
};

describe('token counting', () => {
  it('counts ordinary text exactly as the whole o200k encoder does, though it counts in chunks', async () => {
    const { default: ranks } = await import('gpt-tokenizer/bpeRanks/o200k_base');
    const whole = GptEncoding.getEncodingApi('o200k_base', () => ranks);
    const words = ['the', 'Hello', "don't", 'über', '漢字', '😀', '42', '3.14', '--', '\n', '\t', 'x/y', '«quoted»', 'e\u0301'];
    for (let round = 0; round < 20; round++) {
      const sample = text(CHUNK_CHARS * 7, () => words[Math.floor(random() * words.length)] + (random() < 0.8 ? ' ' : random() < 0.5 ? '  ' : ''));
      expect(await countTokens(sample)).toBe(whole.countTokens(sample));
    }
  });

  it("counts text that looks like a special token as text, and stores it", async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const { message } = await appendMessage(t, viewer, c.id, { content: 'end here <|endoftext|> and <|im_start|>' });
    expect(message.content).toBe('end here <|endoftext|> and <|im_start|>');
    expect(message.tokens).toBeGreaterThan(5);
  });

  it.each(Object.keys(hostile) as (keyof typeof hostile)[])(
    'another tenant is answered while a 100,000-character message of %s is counted',
    async (kind) => {
      const [attacker, other] = [await t.viewer(), await t.viewer()];
      const c = await createConversation(t, attacker);
      const order: string[] = [];
      const big = appendMessage(t, attacker, c.id, { content: hostile[kind]() }).then((result) => (order.push('big'), result));
      await new Promise((resolve) => setTimeout(resolve, 30)); // the big one is being counted
      await t.gql('{ viewer { userId } conversations(first: 1) { totalCount } }', {}, other);
      order.push('small');
      const { message } = await big;
      expect(order).toEqual(['small', 'big']);
      expect(message.tokens).toBeGreaterThan(0);
    },
    60_000,
  );
});

describe('tool calls', () => {
  const call = (i: number, args = '{}') => ({ id: `call_${i}`, type: 'function', function: { name: 'lookup', arguments: args } });

  it('refuses tool calls larger than a message may be, or too many of them, and stores nothing', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const huge = await t.request(
      `mutation($c: ID!, $calls: JSON) { appendMessage(input: { conversationId: $c, role: ASSISTANT, content: "", toolCalls: $calls }) { message { id } } }`,
      { c: c.id, calls: [call(1, JSON.stringify({ text: 'x'.repeat(100_001) }))] },
      viewer,
    );
    expect(expectErrorCode(huge.body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe('toolCalls');
    const many = await t.request(
      `mutation($c: ID!, $calls: JSON) { appendMessage(input: { conversationId: $c, role: ASSISTANT, content: "", toolCalls: $calls }) { message { id } } }`,
      { c: c.id, calls: Array.from({ length: 129 }, (_, i) => call(i)) },
      viewer,
    );
    expectErrorCode(many.body, 'BAD_USER_INPUT');
    const after = await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount } }`, { id: c.id }, viewer);
    expect(after.conversation.messageCount).toBe(0);
  });
});

describe('what a response may cost', () => {
  let small: TestApp;
  beforeAll(async () => {
    small = await startTestApp({ CONTEXT_MAX_TOKENS: '4000', ECHO_DELAY_MS: '0' });
  });
  afterAll(() => small.close());

  it("counts the prompt with the server's own token counts, not a client's tokens: 0", async () => {
    const viewer = await small.viewer();
    const c = await createConversation(small, viewer, { model: 'builtin:echo' });
    const long = 'word '.repeat(3000); // some 3,000 tokens
    for (let i = 0; i < 4; i++) await appendMessage(small, viewer, c.id, { content: long, tokens: 0 });
    const { conversation } = await small.gql(`query($id: ID!) { conversation(id: $id) { contextWindow(maxTokens: 4000) { id } } }`, { id: c.id }, viewer);
    expect(conversation.contextWindow.length).toBeLessThanOrEqual(1);
    const { sendMessage } = await small.gql(`mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "hi" }) { assistantMessage { id } } }`, { c: c.id }, viewer);
    await waitForMessageStatus((q, v) => small.gql(q, v, viewer), sendMessage.assistantMessage.id, 'COMPLETED');
    const { node } = await small.gql(`query($id: ID!) { node(id: $id) { ... on Message { usage { promptTokens } } } }`, { id: sendMessage.assistantMessage.id }, viewer);
    expect(node.usage.promptTokens).toBeLessThanOrEqual(4000);
  });

  it('refuses a costly field in every event of a subscription, and keeps the subscription', async () => {
    const server = await small.listen();
    const viewer = await small.viewer();
    const c = await createConversation(small, viewer);
    const client = wsClient(server, viewer);
    const events = subscribe(client, `subscription { conversationsChanged { type conversation { contextWindow(maxTokens: 10) { id } } } }`);
    await waitFor(async () => {
      await small.gql(`mutation($id: ID!) { updateConversation(input: { id: $id, title: "t" }) { conversation { id } } }`, { id: c.id }, viewer);
      return events.results.length > 0;
    }, 'an event');
    expect(events.results[0].errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(events.results[0].data?.conversationsChanged.type).toBe('CONVERSATION_UPDATED');
    expect(events.completed).toBe(false);
    await client.dispose();
  });

  it('refuses to carry more than 8,000,000 bytes of messages in one response', async () => {
    const viewer = await small.viewer();
    const c = await createConversation(small, viewer);
    const full = 'a'.repeat(100_000);
    const append = `mutation($c: ID!, $t: String!) { ${Array.from({ length: 9 }, (_, i) => `m${i}: appendMessage(input: { conversationId: $c, role: USER, content: $t, tokens: 1 }) { message { id } }`).join(' ')} }`;
    for (let i = 0; i < 9; i++) await small.gql(append, { c: c.id, t: full }, viewer);
    const { body } = await small.request(`query($id: ID!) { conversation(id: $id) { messages(first: 81) { edges { node { content } } } } }`, { id: c.id }, viewer);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toContain('8000000 bytes');
  }, 60_000);

  it('counts text as the bytes the response holds: control characters are six each', async () => {
    const viewer = await small.viewer();
    const c = await createConversation(small, viewer);
    const controls = '\u0001'.repeat(100_000); // 600,000 bytes as JSON
    const append = `mutation($c: ID!, $t: String!) { ${Array.from({ length: 7 }, (_, i) => `m${i}: appendMessage(input: { conversationId: $c, role: USER, content: $t, tokens: 1 }) { message { id } }`).join(' ')} }`;
    for (let i = 0; i < 2; i++) await small.gql(append, { c: c.id, t: controls }, viewer);
    const page = (n: number) => small.request(`query($id: ID!) { conversation(id: $id) { messages(first: ${n}) { edges { node { content } } } } }`, { id: c.id }, viewer);
    const refused = (await page(14)).body; // 1,400,000 characters, 8,400,000 bytes
    expect(refused.errors?.[0]?.message).toContain('8000000 bytes');
    const served = await page(13); // 7,800,000 bytes
    expect(served.body.errors).toBeUndefined();
    expect(served.body.data.conversation.messages.edges).toHaveLength(13);
  }, 60_000);

  it('knows the bytes of any text in JSON without encoding it', () => {
    const samples = ['', 'plain', 'lone \ud800 and \udfff', 'pair \ud83d\ude00 then lone \ud83d', 'quote " and \\ backslash', 'lines\n\r\t\b\f', '\u0000\u0001\u001f', 'é ü ß', '日本語', '😀 🚀', 'mixed "日本" \u0002 😀\n', hostile.chinese().slice(0, 2000), hostile.emoji().slice(0, 2000), hostile.whitespace().slice(0, 2000)];
    for (const sample of samples) expect(jsonBytes(sample)).toBe(Buffer.byteLength(JSON.stringify(sample)));
  });
});
