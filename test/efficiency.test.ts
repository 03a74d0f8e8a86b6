// A page of conversations with counters, previews and their first messages costs a fixed number of SQL
// statements, whatever the page size (no N+1); a chat turn reads nothing twice.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { appendMessage, createConversation, startTestApp, subscribe, wsClient, type TestApp } from './helpers.ts';

let t: TestApp;
beforeAll(async () => (t = await startTestApp()));
afterAll(() => t.close());

const SIDEBAR = /* GraphQL */ `
  query($first: Int!) {
    conversations(first: $first) {
      totalCount
      edges { node {
        id title messageCount preview lastMessageAt
        messages(first: 5) { totalCount edges { node { id position role content conversation { id title } } } }
        chatSessions(first: 2) { edges { node { id model } } }
        activeGeneration { id }
      } }
    }
  }`;

it('costs the same number of SQL statements for 2 or 20 conversations', async () => {
  const viewer = await t.viewer();
  for (let i = 0; i < 20; i++) {
    const c = await createConversation(t, viewer, { title: `c${i}` });
    for (let m = 0; m < 7; m++) await appendMessage(t, viewer, c.id, { content: `message ${m}`, tokens: 1 });
  }
  const small = await t.countQueries(() => t.gql(SIDEBAR, { first: 2 }, viewer));
  let data: any;
  const large = await t.countQueries(async () => (data = await t.gql(SIDEBAR, { first: 20 }, viewer)));

  expect(data.conversations.edges).toHaveLength(20);
  for (const { node } of data.conversations.edges) {
    expect(node.messageCount).toBe(7);
    expect(node.preview).toBe('message 6');
    expect(node.messages.totalCount).toBe(7);
    expect(node.messages.edges.map((e: any) => e.node.position)).toEqual([1, 2, 3, 4, 5]);
  }
  expect(small.count).toBeGreaterThan(0); // the counter does see the statements
  expect(large.count, large.statements.join('\n')).toBe(small.count);
  // the conversations page, its count, the message pages, the session pages, the active generations, the
  // stored values shown (src/stored-values.ts)
  expect(large.count, large.statements.join('\n')).toBeLessThanOrEqual(6);
});

it('reads the conversation once in a chat turn, and never the message it has just created', async () => {
  const viewer = await t.viewer();
  const c = await createConversation(t, viewer, { model: 'builtin:echo', systemPrompt: 'Be brief.' });
  const client = wsClient(await t.listen(), viewer);
  let events: any[] = [];
  const turn = await t.countQueries(async () => {
    events = await subscribe(client, `subscription($input: SendMessageInput!) { chat(input: $input) { __typename ... on MessageDelta { delta } } }`, {
      input: { conversationId: c.id, content: 'one two three' },
    }).all();
  });
  await client.dispose();
  expect(events.at(-1).data.chat.__typename).toBe('MessageCompleted');
  expect(events.filter((e) => e.data.chat.__typename === 'MessageDelta').map((e) => e.data.chat.delta).join('')).toBe('one two three');
  // sendMessage reads the conversation; the generation is handed the row it stored, the stream the message it created.
  const conversationReads = turn.statements.filter((sql) => /^SELECT\b[^]*\bFROM "public"."Conversation"/.test(sql));
  expect(conversationReads, turn.statements.join('\n')).toHaveLength(1);
  const messageByIdReads = turn.statements.filter((sql) => /^SELECT\b[^]*\bFROM "public"."Message"[^]*\bWHERE \("public"."Message"."id" = \$1/.test(sql));
  expect(messageByIdReads, turn.statements.join('\n')).toHaveLength(0);
});
