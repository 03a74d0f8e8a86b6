// What one request may cost: counting tokens is linear and leaves room for other requests, whatever the
// text; tool calls have a size; text that looks like a tokenizer's special token is only text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';
import { appendMessage, createConversation, expectErrorCode, startTestApp, type TestApp } from './helpers.ts';
import { CHUNK_CHARS, countTokens } from '../src/tokens.ts';

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
