// Text the server cuts (in error messages, log lines, titles, a reply at its limit) is cut between characters:
// a lone half of a surrogate pair is not Unicode, and strict JSON decoders refuse a response holding one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutPoint, cutText, shownText } from '../src/text-cut.ts';
import { startTestApp, type TestApp } from './helpers.ts';

describe('cutText', () => {
  it('cuts at the length asked for, or one before where that would split a pair', () => {
    expect(cutText('abcdef', 3)).toBe('abc');
    expect(cutText('ab😀cd', 3)).toBe('ab'); // the cut fell inside 😀
    expect(cutText('ab😀cd', 4)).toBe('ab😀');
    expect(cutText('ab😀', 10)).toBe('ab😀');
    expect(shownText('ab😀cd', 3)).toBe('ab…');
    expect(shownText('abc', 3)).toBe('abc');
    expect(cutPoint('a😀', 2)).toBe(1);
    expect(cutPoint('a😀', 0)).toBe(0);
  });
});

describe('error messages that quote what was sent', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t.close());

  const messages = async (query: string, variables: Record<string, unknown>) => {
    const { body } = await t.request(query, variables, await t.viewer());
    return (body.errors ?? []).map((error) => error.message);
  };

  it('an unknown model, quoted in part, is quoted between characters', async () => {
    const [message] = await messages(`mutation($m: String!) { createConversation(input: { model: $m }) { conversation { id } } }`, { m: `${'a'.repeat(99)}${'😀'.repeat(5)}` });
    expect(message).toContain(`unknown model "${'a'.repeat(99)}…"`);
    expect(message.isWellFormed()).toBe(true);
  });

  it('an invalid global ID, quoted in part, is quoted between characters', async () => {
    const [invalid] = await messages(`query($id: ID!) { node(id: $id) { id } }`, { id: `a${'😀'.repeat(45)}` });
    expect(invalid).toContain(`Invalid global ID: a${'😀'.repeat(39)}…`);
    expect(invalid.isWellFormed()).toBe(true);
  });
});
