// Titles the server gives untitled conversations after their first reply: by the model, or the first
// words of the first message with builtin:echo (or when the model fails); never over a client's title.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConversation, startTestApp, subscribe, waitFor, waitForMessageStatus, wsClient, type TestApp, type TestViewer } from './helpers.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai.ts';
import type { RunningServer } from '../src/server.ts';

let vendor: FakeOpenAI;
let t: TestApp;
let server: RunningServer;

beforeAll(async () => {
  vendor = await startFakeOpenAI();
  t = await startTestApp({
    OPENAI_COMPATIBLE_BASE_URL: vendor.baseURL,
    OPENAI_COMPATIBLE_NAME: 'fake',
    OPENAI_COMPATIBLE_MODELS: 'chat,broken,slow',
    ECHO_DELAY_MS: '0',
  });
  server = await t.listen();
});
afterAll(async () => {
  await t.close();
  await vendor.close();
});

const SEND = `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { assistantMessage { id } } }`;
const TITLE = `query($id: ID!) { conversation(id: $id) { title version } }`;

async function send(viewer: TestViewer, conversationId: string, text: string): Promise<void> {
  const { sendMessage } = await t.gql(SEND, { c: conversationId, t: text }, viewer);
  await waitForMessageStatus((q, v) => t.gql(q, v, viewer), sendMessage.assistantMessage.id, 'COMPLETED');
}

async function titleOf(viewer: TestViewer, id: string): Promise<string | null> {
  return (await t.gql(TITLE, { id }, viewer)).conversation.title;
}

async function waitForTitle(viewer: TestViewer, id: string): Promise<string> {
  await waitFor(async () => (await titleOf(viewer, id)) !== null, 'a title');
  return (await titleOf(viewer, id))!;
}

describe('generated titles', () => {
  it('with builtin:echo: the first words of the first message, announced as CONVERSATION_UPDATED', async () => {
    const viewer = await t.viewer();
    const client = wsClient(server, viewer);
    const events = subscribe<any>(client, `subscription { conversationsChanged { type conversationId conversation { title version } } }`);
    await new Promise((r) => setTimeout(r, 100));
    const { id } = await createConversation(t, viewer, { title: null, model: 'builtin:echo' });
    await send(viewer, id, '## Plan a *trip* to Lima in May, with a budget\nand more');
    expect(await waitForTitle(viewer, id)).toBe('Plan a trip to Lima in');
    const updated = () => events.results.map((e) => e.data!.conversationsChanged).filter((e: any) => e.type === 'CONVERSATION_UPDATED');
    await waitFor(() => updated().length > 0, 'CONVERSATION_UPDATED');
    expect(updated()).toEqual([{ type: 'CONVERSATION_UPDATED', conversationId: id, conversation: { title: 'Plan a trip to Lima in', version: 1 } }]);
    await client.dispose();
  });

  it('cut to their length between characters: an emoji at the cut is left out whole, never stored as half of one', async () => {
    const viewer = await t.viewer();
    const { id } = await createConversation(t, viewer, { title: null, model: 'builtin:echo' });
    await send(viewer, id, `xy${'😀'.repeat(100)}`);
    const title = await waitForTitle(viewer, id);
    expect(title).toBe(`xy${'😀'.repeat(28)}…`); // 59 code units would have ended on the first half of the 29th
    expect(title.isWellFormed()).toBe(true);
  });

  it('by the model, asked with the first message only; its quotes and period are dropped', async () => {
    vendor.script('chat', (body) =>
      body.messages[0]?.role === 'system' && String(body.messages[0].content).startsWith('Write a title')
        ? { tokens: ['"Weekend ', 'in Lima."'] }
        : { tokens: ['Sure, ', 'here is a plan.'] },
    );
    const viewer = await t.viewer();
    const { id } = await createConversation(t, viewer, { title: null, model: 'fake:chat' });
    await send(viewer, id, 'Plan me a weekend in Lima');
    expect(await waitForTitle(viewer, id)).toBe('Weekend in Lima');
    const asked = vendor.requests.map((r: any) => r.body).find((b: any) => b.messages[0]?.content?.startsWith?.('Write a title'));
    expect(asked.messages.at(-1).content).toContain('Plan me a weekend in Lima');
    expect(asked.messages.at(-1).content).not.toContain('here is a plan');
  });

  it('a model that fails the title call: the first words instead', async () => {
    vendor.script('broken', (body) =>
      String(body.messages[0]?.content).startsWith('Write a title') ? { status: 500 } : { tokens: ['fine'] },
    );
    const viewer = await t.viewer();
    const { id } = await createConversation(t, viewer, { title: null, model: 'fake:broken' });
    await send(viewer, id, 'Tell me about tapirs');
    expect(await waitForTitle(viewer, id)).toBe('Tell me about tapirs');
  });

  it('after a reply the model failed: the first words, the model not asked again', async () => {
    vendor.script('broken', { status: 500 });
    const viewer = await t.viewer();
    const { id } = await createConversation(t, viewer, { title: null, model: 'fake:broken' });
    const before = vendor.requests.length;
    const { sendMessage } = await t.gql(SEND, { c: id, t: 'Tell me about okapis' }, viewer);
    await waitForMessageStatus((q, v) => t.gql(q, v, viewer), sendMessage.assistantMessage.id, 'FAILED');
    expect(await waitForTitle(viewer, id)).toBe('Tell me about okapis');
    expect(vendor.requests.length - before).toBe(1); // the reply's request alone
  });

  it('never replaces a title: given at creation, or set before the reply ends', async () => {
    const viewer = await t.viewer();
    const titled = await createConversation(t, viewer, { title: 'Mine', model: 'builtin:echo' });
    await send(viewer, titled.id, 'Hello there, echo');
    vendor.script('slow', (body) =>
      String(body.messages[0]?.content).startsWith('Write a title') ? { tokens: ['Model title'] } : { tokens: ['one ', 'two ', 'three'], delayMs: 150 },
    );
    const untitled = await createConversation(t, viewer, { title: null, model: 'fake:slow' });
    const { sendMessage } = await t.gql(SEND, { c: untitled.id, t: 'Some words here' }, viewer);
    await t.gql(`mutation($id: ID!) { updateConversation(input: { id: $id, title: "Renamed" }) { conversation { id } } }`, { id: untitled.id }, viewer);
    expect((await t.gql(`query($id: ID!) { node(id: $id) { ... on Message { status } } }`, { id: sendMessage.assistantMessage.id }, viewer)).node.status).toBe('STREAMING');
    await waitForMessageStatus((q, v) => t.gql(q, v, viewer), sendMessage.assistantMessage.id, 'COMPLETED');
    await new Promise((r) => setTimeout(r, 300)); // a title call would have ended by now
    expect(await titleOf(viewer, titled.id)).toBe('Mine');
    expect(await titleOf(viewer, untitled.id)).toBe('Renamed');
  });
});
