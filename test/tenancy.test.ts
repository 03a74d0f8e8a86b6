// No way to see or touch another (org, user)'s conversations, messages or sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPEND_MESSAGE, appendMessage, createConversation, expectErrorCode, startTestApp, subscribe, wsClient, type TestApp, type TestViewer } from './helpers.ts';

let t: TestApp;
beforeAll(async () => (t = await startTestApp()));
afterAll(() => t.close());

async function ownedWorld(owner: TestViewer) {
  const conversation = await createConversation(t, owner, { title: 'secret plans', projectId: 'shared-project' });
  const { message } = await appendMessage(t, owner, conversation.id, { content: 'the secret word is swordfish' });
  const session = (
    await t.gql(`mutation($id: ID!) { createChatSession(input: { conversationId: $id, model: "builtin:echo" }) { chatSession { id } } }`, { id: conversation.id }, owner)
  ).createChatSession.chatSession;
  return { conversation, message, session };
}

describe.each([
  ['another user', { orgId: null }, { orgId: null }],
  ['the same user id in another org', { orgId: 'org-a', userId: 'same-user' }, { orgId: 'org-b', userId: 'same-user' }],
  ['the same user id without an org', { orgId: 'org-a', userId: 'same-user-2' }, { orgId: null, userId: 'same-user-2' }],
])('isolation from %s', (_name, ownerClaims, intruderClaims) => {
  let owner: TestViewer;
  let intruder: TestViewer;
  let world: Awaited<ReturnType<typeof ownedWorld>>;
  beforeAll(async () => {
    owner = await t.viewer(ownerClaims);
    intruder = await t.viewer(intruderClaims);
    world = await ownedWorld(owner);
  });

  it('hides everything from reads: node, nodes, conversation, lists, search', async () => {
    const ids = [world.conversation.id, world.message.id, world.session.id];
    const data = await t.gql(
      `query($ids: [ID!]!, $c: ID!) {
        nodes(ids: $ids) { id }
        node(id: $c) { id }
        conversation(id: $c) { id }
        all: conversations(filter: { status: [ACTIVE, ARCHIVED, DELETED] }) { totalCount edges { node { id } } }
        search: conversations(filter: { search: "swordfish" }) { totalCount }
        project: conversations(filter: { projectId: "shared-project" }) { totalCount }
      }`,
      { ids, c: world.conversation.id },
      intruder,
    );
    expect(data).toEqual({ nodes: [null, null, null], node: null, conversation: null, all: { totalCount: 0, edges: [] }, search: { totalCount: 0 }, project: { totalCount: 0 } });
    // The owner does see them.
    const mine = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids }, owner);
    expect(mine.nodes.map((n: any) => n.id)).toEqual(ids);
  });

  it('answers NOT_FOUND to every mutation on them and changes nothing', async () => {
    const c = world.conversation.id;
    const attempts: [string, Record<string, unknown>][] = [
      [`mutation($id: ID!) { updateConversation(input: { id: $id, title: "pwned" }) { conversation { id } } }`, { id: c }],
      [`mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { id } } }`, { id: c }],
      [`mutation($id: ID!) { unarchiveConversation(input: { id: $id }) { conversation { id } } }`, { id: c }],
      [`mutation($id: ID!) { deleteConversation(input: { id: $id }) { conversation { id } } }`, { id: c }],
      [`mutation($id: ID!) { restoreConversation(input: { id: $id }) { conversation { id } } }`, { id: c }],
      [`mutation($id: ID!) { purgeConversation(input: { id: $id }) { purgedConversationId } }`, { id: c }],
      [APPEND_MESSAGE, { input: { conversationId: c, role: 'USER', content: 'injected' } }],
      [`mutation($id: ID!) { createChatSession(input: { conversationId: $id, model: "builtin:echo" }) { chatSession { id } } }`, { id: c }],
      [`mutation($id: ID!) { completeChatSession(input: { id: $id }) { chatSession { id } } }`, { id: world.session.id }],
    ];
    for (const [query, variables] of attempts) expectErrorCode((await t.request(query, variables, intruder)).body, 'NOT_FOUND');
    // Their own conversation cannot borrow the owner's chat session either.
    const theirs = await createConversation(t, intruder);
    expectErrorCode((await t.request(APPEND_MESSAGE, { input: { conversationId: theirs.id, role: 'USER', content: 'x', chatSessionId: world.session.id } }, intruder)).body, 'NOT_FOUND');

    const data = await t.gql(`query($id: ID!) { conversation(id: $id) { title status version messageCount chatSessions { edges { node { status } } } } }`, { id: c }, owner);
    expect(data.conversation).toEqual({ title: 'secret plans', status: 'ACTIVE', version: 1, messageCount: 1, chatSessions: { edges: [{ node: { status: 'ACTIVE' } }] } });
  });

  it('refuses their subscriptions and keeps sidebar events to the owner', async () => {
    const server = await t.listen();
    const intruderWs = wsClient(server, intruder);
    const denied = subscribe(intruderWs, `subscription($id: ID!) { conversationEvents(conversationId: $id) { type } }`, { id: world.conversation.id });
    const [result] = await denied.next(1);
    expect(result?.errors?.[0]?.extensions?.code ?? (denied.error as any)?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // chat: sendMessage and the stream in one; nothing is stored in their conversation, and no message streams.
    const chat = subscribe(intruderWs, `subscription($input: SendMessageInput!) { chat(input: $input) { __typename } }`, {
      input: { conversationId: world.conversation.id, content: 'let me in', chatSessionId: world.session.id },
    });
    const [chatResult] = await chat.next(1).catch(() => [undefined]);
    expect(chatResult?.errors?.[0]?.extensions?.code ?? (chat.error as any)?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const { conversation } = await t.gql(`query($id: ID!) { conversation(id: $id) { messageCount activeGeneration { id } } }`, { id: world.conversation.id }, owner);
    expect(conversation).toEqual({ messageCount: 1, activeGeneration: null });

    const sidebar = subscribe(intruderWs, `subscription { conversationsChanged { type conversationId } }`);
    const ownerWs = wsClient(server, owner);
    const ownerSidebar = subscribe(ownerWs, `subscription { conversationsChanged { type conversationId } }`);
    await new Promise((r) => setTimeout(r, 200));
    await appendMessage(t, owner, world.conversation.id, { content: 'more secrets' });
    await ownerSidebar.next(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(sidebar.results).toEqual([]);
    await intruderWs.dispose();
    await ownerWs.dispose();
  });
});
