// A reply cannot grow or last without end: a model that never stops (a loop, a stream that trickles) is cut
// at REPLY_MAX_CHARS, COMPLETED with finishReason LENGTH, and failed after REPLY_MAX_SECONDS, so that it
// does not stay STREAMING for as long as the vendor keeps sending.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createConversation, startTestApp, waitForMessage, type TestApp, type TestViewer } from './helpers.ts';
import { AssembledReply } from '../src/generation/assembled-reply.ts';

let t: TestApp;
let viewer: TestViewer;
beforeAll(async () => {
  // builtin:echo streams the user's words back, one every ECHO_DELAY_MS.
  t = await startTestApp({ ECHO_DELAY_MS: '20', REPLY_MAX_CHARS: '60' });
  viewer = await t.viewer();
});
afterAll(() => t.close());

const SEND = `mutation($c: ID!, $text: String!) { sendMessage(input: { conversationId: $c, content: $text }) { assistantMessage { id } } }`;
const MESSAGE = `query($id: ID!) { node(id: $id) { ... on Message { status content finishReason error } } }`;
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

async function reply(text: string) {
  const c = await createConversation(t, viewer, { model: 'builtin:echo' });
  const { sendMessage } = await t.gql(SEND, { c: c.id, text }, viewer);
  const id = sendMessage.assistantMessage.id;
  await waitForMessage((q, v) => t.gql(q, v, viewer), id, (node) => node.status !== 'STREAMING', 'to end', 15_000);
  return (await t.gql(MESSAGE, { id }, viewer)).node;
}

it('is cut at REPLY_MAX_CHARS, as a model that reached its own limit: COMPLETED, LENGTH', async () => {
  const cut = await reply(words(30)); // some 200 characters, echoed in 0.6 s
  expect(cut).toMatchObject({ status: 'COMPLETED', finishReason: 'LENGTH', error: null });
  expect(cut.content.length).toBeGreaterThanOrEqual(60);
  expect(cut.content.length).toBeLessThan(60 + 'word29 '.length);
  expect(words(30).startsWith(cut.content.trim())).toBe(true);
  const whole = await reply(words(3));
  expect(whole).toMatchObject({ status: 'COMPLETED', finishReason: 'STOP', content: words(3) });
});

it('fails after REPLY_MAX_SECONDS, with what it had streamed', async () => {
  const slow = await startTestApp({ ECHO_DELAY_MS: '200', REPLY_MAX_SECONDS: '1' });
  try {
    const owner = await slow.viewer();
    const c = await createConversation(slow, owner, { model: 'builtin:echo' });
    const { sendMessage } = await slow.gql(SEND, { c: c.id, text: 'a '.repeat(50) }, owner); // 10 s of words
    const id = sendMessage.assistantMessage.id;
    await waitForMessage((q, v) => slow.gql(q, v, owner), id, (node) => node.status !== 'STREAMING', 'to end', 5_000);
    const { node } = await slow.gql(MESSAGE, { id }, owner);
    expect(node).toMatchObject({ status: 'FAILED', finishReason: 'ERROR', error: 'The reply was still streaming after 1 seconds.' });
    expect(node.content.length).toBeGreaterThan(0);
  } finally {
    await slow.close();
  }
});

it("counts what a reply holds toward REPLY_MAX_CHARS: text, reasoning, and tool calls' arguments streamed or sent whole", () => {
  const reply = new AssembledReply();
  reply.add({ kind: 'text', text: 'abc' });
  reply.add({ kind: 'reasoning', block: 'r', text: 'de' });
  reply.add({ kind: 'toolInput', id: 'streamed', name: 'f', delta: '{"a":' });
  reply.add({ kind: 'toolInput', id: 'streamed', name: 'f', delta: '1}' });
  reply.add({ kind: 'toolCall', id: 'streamed', name: 'f', arguments: '{"a":1}' }); // its deltas counted it already
  expect(reply.characters).toBe(3 + 2 + 7);
  reply.add({ kind: 'toolCall', id: 'whole', name: 'g', arguments: '{"b":22}' }); // sent whole, without deltas
  expect(reply.characters).toBe(3 + 2 + 7 + 8);
});
