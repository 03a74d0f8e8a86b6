import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMessage, createConversation, CREATE_CONVERSATION, expectErrorCode, startTestApp, type TestApp } from './helpers.ts';

let t: TestApp;
beforeAll(async () => (t = await startTestApp()));
afterAll(() => t.close());

const UPDATE = /* GraphQL */ `
  mutation Update($input: UpdateConversationInput!) {
    updateConversation(input: $input) { conversation { id title model systemPrompt metadata version updatedAt status } }
  }`;
const lifecycle = (name: string) => /* GraphQL */ `
  mutation($id: ID!) { ${name}(input: { id: $id }) { conversation { id status version archivedAt deletedAt updatedAt } } }`;
const GET = /* GraphQL */ `query($id: ID!) { conversation(id: $id) { id title status version } node(id: $id) { id ... on Conversation { title } } }`;

describe('createConversation', () => {
  it('creates with defaults and returns every contract field', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { title: 'Trip to Lisbon', projectId: 'p1', agentId: 'a1', systemPrompt: 'Be brief', metadata: { tags: ['x'] } });
    expect(c).toMatchObject({
      title: 'Trip to Lisbon', status: 'ACTIVE', version: 1, model: 'builtin:echo', systemPrompt: 'Be brief',
      metadata: { tags: ['x'] }, projectId: 'p1', agentId: 'a1', messageCount: 0, totalTokens: 0, preview: null,
      archivedAt: null, deletedAt: null, lastMessageAt: null,
    });
    expect(c.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Buffer.from(c.id, 'base64').toString()).toMatch(/^Conversation:/);
    const data = await t.gql(GET, { id: c.id }, viewer);
    expect(data.conversation).toMatchObject({ id: c.id, title: 'Trip to Lisbon' });
    expect(data.node).toMatchObject({ id: c.id, title: 'Trip to Lisbon' });
  });

  it('refuses JSON numbers past a double\'s range, in variables and in literals, and stores nothing', async () => {
    const viewer = await t.viewer();
    const create = `mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { id } } }`;
    const body = `{"query":${JSON.stringify(create)},"variables":{"m":{"deep":[{"n":1e400}]}}}`;
    const raw = await t.app.yoga.fetch('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` }, body });
    expectErrorCode((await raw.json()) as never, 'BAD_USER_INPUT');
    expectErrorCode((await t.request(`mutation { createConversation(input: { metadata: { n: -1e400 } }) { conversation { id } } }`, {}, viewer)).body, 'BAD_USER_INPUT');
    expect((await t.gql(`{ conversations { totalCount } }`, {}, viewer)).conversations.totalCount).toBe(0);
    // The largest double is a number like any other.
    const kept = await t.gql(create, { m: { n: 1.7976931348623157e308 } }, viewer);
    expect(kept.createConversation.conversation.id).toBeTruthy();
  });

  it('refuses a JSON key "__proto__" (it was dropped on the way to the database), at any depth, and stores nothing', async () => {
    const viewer = await t.viewer();
    const create = `mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { id } } }`;
    // Written out: JSON.stringify of an object literal would not carry the key.
    for (const m of ['{"__proto__":{"a":1}}', '{"deep":[{"x":{"__proto__":5}}]}']) {
      const body = `{"query":${JSON.stringify(create)},"variables":{"m":${m}}}`;
      const raw = await t.app.yoga.fetch('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer.token}` }, body });
      expect(expectErrorCode((await raw.json()) as never, 'BAD_USER_INPUT').message).toContain('__proto__');
    }
    expectErrorCode((await t.request(`mutation { createConversation(input: { metadata: { b: [{ __proto__: 1 }] } }) { conversation { id } } }`, {}, viewer)).body, 'BAD_USER_INPUT');
    expect((await t.gql(`{ conversations { totalCount } }`, {}, viewer)).conversations.totalCount).toBe(0);
    // Another key that names a property of Object.prototype is a key like any other.
    const kept = await t.gql(`mutation($m: JSON) { createConversation(input: { metadata: $m }) { conversation { metadata } } }`, { m: { constructor: 1, toString: 'x' } }, viewer);
    expect(kept.createConversation.conversation.metadata).toEqual({ constructor: 1, toString: 'x' });
  });

  it('defaults metadata to {} and title to null', async () => {
    const viewer = await t.viewer();
    const data = await t.gql(CREATE_CONVERSATION, { input: {} }, viewer);
    expect(data.createConversation.conversation).toMatchObject({ title: null, metadata: {} });
  });

  it.each([
    ['title over 255 characters', { title: 'x'.repeat(256) }, 'title'],
    ['metadata not an object', { metadata: [1, 2] }, 'metadata'],
    ['metadata a string', { metadata: 'hello' }, 'metadata'],
    ['metadata over 16 KiB', { metadata: { big: 'x'.repeat(16 * 1024) } }, 'metadata'],
    ['an unknown model', { model: 'openai:nope' }, 'model'],
    ['an empty idempotency key', { idempotencyKey: '' }, 'idempotencyKey'],
    ['a system prompt over the content limit', { systemPrompt: 'x'.repeat(100_001) }, 'systemPrompt'],
  ])('refuses %s with BAD_USER_INPUT and a field error', async (_name, input, field) => {
    const viewer = await t.viewer();
    const { body } = await t.request(CREATE_CONVERSATION, { input }, viewer);
    const error = expectErrorCode(body, 'BAD_USER_INPUT');
    expect(error.extensions!.fieldErrors).toEqual([expect.objectContaining({ field })]);
    const list = await t.gql('{ conversations { totalCount } }', {}, viewer);
    expect(list.conversations.totalCount).toBe(0); // nothing half-written
  });

  it('accepts a title of exactly 255 characters (counted as characters, not bytes)', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { title: 'é'.repeat(255) });
    expect(c.title).toHaveLength(255);
  });

  it('is idempotent per viewer and key, and refuses a reused key with other input', async () => {
    const viewer = await t.viewer();
    const input = { title: 'Once', idempotencyKey: 'create-1' };
    const [a, b] = await Promise.all([createConversation(t, viewer, input), createConversation(t, viewer, input)]);
    const c = await createConversation(t, viewer, input);
    expect(b.id).toBe(a.id);
    expect(c.id).toBe(a.id);
    const list = await t.gql('{ conversations { totalCount } }', {}, viewer);
    expect(list.conversations.totalCount).toBe(1);

    const other = await t.viewer();
    const theirs = await createConversation(t, other, input);
    expect(theirs.id).not.toBe(a.id); // keys are per viewer

    const { body } = await t.request(CREATE_CONVERSATION, { input: { title: 'Different', idempotencyKey: 'create-1' } }, viewer);
    expectErrorCode(body, 'CONFLICT');
  });
});

describe('updateConversation', () => {
  it('changes fields, bumps the version and moves updatedAt', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { systemPrompt: 'old' });
    const data = await t.gql(UPDATE, { input: { id: c.id, title: 'Renamed', systemPrompt: null, metadata: { k: 1 } } }, viewer);
    const updated = data.updateConversation.conversation;
    expect(updated).toMatchObject({ title: 'Renamed', systemPrompt: null, metadata: { k: 1 }, version: 2 });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(c.updatedAt));
  });

  it('leaves omitted fields alone and does not bump the version for an empty change', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { title: 'Keep', systemPrompt: 'sp' });
    const data = await t.gql(UPDATE, { input: { id: c.id } }, viewer);
    expect(data.updateConversation.conversation).toMatchObject({ title: 'Keep', systemPrompt: 'sp', version: 1 });
  });

  it('answers CONFLICT for a stale expectedVersion and changes nothing', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { title: 'v1' });
    await t.gql(UPDATE, { input: { id: c.id, title: 'v2', expectedVersion: 1 } }, viewer);
    const { body } = await t.request(UPDATE, { input: { id: c.id, title: 'lost', expectedVersion: 1 } }, viewer);
    expectErrorCode(body, 'CONFLICT');
    const data = await t.gql(GET, { id: c.id }, viewer);
    expect(data.conversation).toMatchObject({ title: 'v2', version: 2 });
  });

  it('lets exactly one of two concurrent writers with the same expectedVersion win', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const results = await Promise.all(
      ['a', 'b', 'c'].map((title) => t.request(UPDATE, { input: { id: c.id, title, expectedVersion: 1 } }, viewer)),
    );
    const won = results.filter((r) => !r.body.errors);
    expect(won).toHaveLength(1);
    for (const r of results.filter((r) => r.body.errors)) expectErrorCode(r.body, 'CONFLICT');
    const data = await t.gql(GET, { id: c.id }, viewer);
    expect(data.conversation.version).toBe(2);
  });

  it('without expectedVersion, the last write wins and every write counts', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    await Promise.all(['a', 'b', 'c', 'd'].map((title) => t.gql(UPDATE, { input: { id: c.id, title } }, viewer)));
    const data = await t.gql(GET, { id: c.id }, viewer);
    expect(data.conversation.version).toBe(5);
  });

  it.each([
    [{ title: 'x'.repeat(256) }, 'title'],
    [{ metadata: null }, 'metadata'],
    [{ metadata: [1] }, 'metadata'],
    [{ model: null }, 'model'],
    [{ model: 'unknown:model' }, 'model'],
  ])('refuses %j', async (change, field) => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer, { title: 'same' });
    const { body } = await t.request(UPDATE, { input: { id: c.id, ...change } }, viewer);
    expect(expectErrorCode(body, 'BAD_USER_INPUT').extensions!.fieldErrors[0].field).toBe(field);
    const data = await t.gql(GET, { id: c.id }, viewer);
    expect(data.conversation).toMatchObject({ title: 'same', version: 1 });
  });

  it('answers NOT_FOUND for a missing id and BAD_USER_INPUT for an id of another type or garbage', async () => {
    const viewer = await t.viewer();
    const missing = Buffer.from('Conversation:0190e0e0-0000-7000-8000-000000000000').toString('base64');
    expectErrorCode((await t.request(UPDATE, { input: { id: missing, title: 'x' } }, viewer)).body, 'NOT_FOUND');
    const wrongType = Buffer.from('Message:abc').toString('base64');
    expectErrorCode((await t.request(UPDATE, { input: { id: wrongType, title: 'x' } }, viewer)).body, 'BAD_USER_INPUT');
    expectErrorCode((await t.request(UPDATE, { input: { id: '%%%not-base64', title: 'x' } }, viewer)).body, 'BAD_USER_INPUT');
  });
});

describe('lifecycle', () => {
  it('archives, unarchives, deletes, restores and purges', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);

    const archived = (await t.gql(lifecycle('archiveConversation'), { id: c.id }, viewer)).archiveConversation.conversation;
    expect(archived).toMatchObject({ status: 'ARCHIVED', version: 2 });
    expect(archived.archivedAt).not.toBeNull();
    // Asking again changes nothing.
    expect((await t.gql(lifecycle('archiveConversation'), { id: c.id }, viewer)).archiveConversation.conversation.version).toBe(2);

    const active = (await t.gql(lifecycle('unarchiveConversation'), { id: c.id }, viewer)).unarchiveConversation.conversation;
    expect(active).toMatchObject({ status: 'ACTIVE', archivedAt: null, version: 3 });

    const deleted = (await t.gql(lifecycle('deleteConversation'), { id: c.id }, viewer)).deleteConversation.conversation;
    expect(deleted.status).toBe('DELETED');
    expect(deleted.deletedAt).not.toBeNull();
    // A deleted conversation is still the owner's to see and restore, but takes no messages or edits.
    expect((await t.gql(GET, { id: c.id }, viewer)).conversation.status).toBe('DELETED');
    const { body } = await t.request(
      `mutation($id: ID!) { appendMessage(input: { conversationId: $id, role: USER, content: "hi" }) { message { id } } }`,
      { id: c.id },
      viewer,
    );
    expectErrorCode(body, 'NOT_FOUND');
    expectErrorCode((await t.request(UPDATE, { input: { id: c.id, title: 'no' } }, viewer)).body, 'NOT_FOUND');
    expectErrorCode((await t.request(lifecycle('archiveConversation'), { id: c.id }, viewer)).body, 'NOT_FOUND');

    const restored = (await t.gql(lifecycle('restoreConversation'), { id: c.id }, viewer)).restoreConversation.conversation;
    expect(restored).toMatchObject({ status: 'ACTIVE', deletedAt: null });

    const purged = await t.gql(`mutation($id: ID!) { purgeConversation(input: { id: $id }) { purgedConversationId } }`, { id: c.id }, viewer);
    expect(purged.purgeConversation.purgedConversationId).toBe(c.id);
    expect((await t.gql(GET, { id: c.id }, viewer)).conversation).toBeNull();
    expectErrorCode((await t.request(`mutation($id: ID!) { purgeConversation(input: { id: $id }) { purgedConversationId } }`, { id: c.id }, viewer)).body, 'NOT_FOUND');
  });

  it('restores an archived-then-deleted conversation as ARCHIVED', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    await t.gql(lifecycle('archiveConversation'), { id: c.id }, viewer);
    await t.gql(lifecycle('deleteConversation'), { id: c.id }, viewer);
    const restored = (await t.gql(lifecycle('restoreConversation'), { id: c.id }, viewer)).restoreConversation.conversation;
    expect(restored.status).toBe('ARCHIVED');
  });

  it('purge cascades to messages and chat sessions', async () => {
    const viewer = await t.viewer();
    const c = await createConversation(t, viewer);
    const { message } = await appendMessage(t, viewer, c.id);
    const session = await t.gql(
      `mutation($id: ID!) { createChatSession(input: { conversationId: $id, model: "builtin:echo" }) { chatSession { id } } }`,
      { id: c.id },
      viewer,
    );
    await t.gql(`mutation($id: ID!) { purgeConversation(input: { id: $id }) { purgedConversationId } }`, { id: c.id }, viewer);
    const data = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [message.id, session.createChatSession.chatSession.id] }, viewer);
    expect(data.nodes).toEqual([null, null]);
    expect(await t.app.services.prisma.message.count({ where: { conversationId: Buffer.from(c.id, 'base64').toString().split(':')[1] } })).toBe(0);
  });
});
