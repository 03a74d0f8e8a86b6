// The branches migration, on a database that holds data written under the schema before it: every
// conversation becomes one branch (each message under the one before it, the last one current), and the
// server reads it and branches it as it does any conversation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { MIGRATIONS_DIR, migrateDeploy, openSchemaEngine } from '../src/migrate/engine.mjs';
import { migrationAdapterFor, newPGlite } from '../src/migrate/adapters.mjs';
import { makeViewer, startTestApp, type TestApp, type TestViewer } from './helpers.ts';

const BRANCHES = '20261202114500_branches';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'branches-migration-'));
const data = path.join(dir, 'data');
const ids = { long: randomUUID(), empty: randomUUID(), m: [randomUUID(), randomUUID(), randomUUID()] };

let t: TestApp;
let viewer: TestViewer;

beforeAll(async () => {
  // The migrations before branches, applied as the project's migrate command applies them.
  const before = path.join(dir, 'migrations');
  fs.cpSync(MIGRATIONS_DIR, before, { recursive: true });
  fs.rmSync(path.join(before, BRANCHES), { recursive: true });
  const { adapterFactory, close } = migrationAdapterFor(`pglite:${data}`);
  try {
    expect(await migrateDeploy(await openSchemaEngine({ adapterFactory }), before)).not.toContain(BRANCHES);
  } finally {
    await close();
  }
  // Rows as the server before it wrote them: positions 1..messageCount, gapless.
  const db = newPGlite(data);
  await db.exec(`
    INSERT INTO "Conversation" ("id", "userId", "model", "messageCount", "totalTokens", "preview", "lastMessageAt", "updatedAt")
    VALUES ('${ids.long}', 'migrated-user', 'builtin:echo', 3, 9, 'three', now(), now()),
           ('${ids.empty}', 'migrated-user', 'builtin:echo', 0, 0, NULL, NULL, now());
    INSERT INTO "Message" ("id", "conversationId", "position", "role", "content", "tokens", "windowTokens", "model")
    VALUES ('${ids.m[0]}', '${ids.long}', 1, 'USER', 'one', 3, 3, NULL),
           ('${ids.m[1]}', '${ids.long}', 2, 'ASSISTANT', 'two', 3, 3, 'builtin:echo'),
           ('${ids.m[2]}', '${ids.long}', 3, 'USER', 'three', 3, 3, NULL);`);
  await db.close();
  // The server migrates its embedded database when it starts.
  t = await startTestApp({ DATABASE_URL: `pglite:${data}`, ECHO_DELAY_MS: '1' });
  viewer = await makeViewer({ userId: 'migrated-user' });
});

afterAll(async () => {
  await t?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const gid = (type: string, id: string) => encodeGlobalID(type, id);
const BRANCH = `query($id: ID!) { conversation(id: $id) { messageCount preview currentMessage { id }
  messages(first: 10) { totalCount edges { node { id position content parent { id } siblingIndex siblingCount } } } } }`;

describe('the branches migration', () => {
  it('turns each conversation into one branch, the last message current', async () => {
    const { conversation } = await t.gql(BRANCH, { id: gid('Conversation', ids.long) }, viewer);
    const [m1, m2, m3] = ids.m.map((id) => gid('Message', id));
    expect(conversation).toMatchObject({ messageCount: 3, preview: 'three', currentMessage: { id: m3 } });
    expect(conversation.messages.edges.map((e: any) => e.node)).toEqual([
      { id: m1, position: 1, content: 'one', parent: null, siblingIndex: 1, siblingCount: 1 },
      { id: m2, position: 2, content: 'two', parent: { id: m1 }, siblingIndex: 1, siblingCount: 1 },
      { id: m3, position: 3, content: 'three', parent: { id: m2 }, siblingIndex: 1, siblingCount: 1 },
    ]);
    const empty = await t.gql(BRANCH, { id: gid('Conversation', ids.empty) }, viewer);
    expect(empty.conversation).toMatchObject({ messageCount: 0, currentMessage: null, messages: { totalCount: 0, edges: [] } });
  });

  it('goes on, and branches, from the migrated rows', async () => {
    const [m1, m2, m3] = ids.m.map((id) => gid('Message', id));
    const append = `mutation($input: AppendMessageInput!) { appendMessage(input: $input) { message { id position parent { id } siblingIndex } } }`;
    const next = (await t.gql(append, { input: { conversationId: gid('Conversation', ids.long), role: 'ASSISTANT', content: 'four' } }, viewer)).appendMessage.message;
    expect(next).toMatchObject({ position: 4, parent: { id: m3 }, siblingIndex: 1 });
    const edited = await t.gql(`mutation($input: EditMessageInput!) { editMessage(input: $input) { userMessage { id position siblingIndex } } }`, { input: { messageId: m3, content: 'three, again', generate: false } }, viewer);
    expect(edited.editMessage.userMessage).toMatchObject({ position: 3, siblingIndex: 2 });
    const { conversation } = await t.gql(BRANCH, { id: gid('Conversation', ids.long) }, viewer);
    expect(conversation.messages.edges.map((e: any) => e.node.id)).toEqual([m1, m2, edited.editMessage.userMessage.id]);
    const first = (await t.gql(append, { input: { conversationId: gid('Conversation', ids.empty), role: 'USER', content: 'hello' } }, viewer)).appendMessage.message;
    expect(first).toMatchObject({ position: 1, parent: null, siblingIndex: 1 });
  });
});
