// Per-request batching: every row a resolver needs by id is loaded once per request, in one query per kind.
import DataLoader from 'dataloader';
import type { ChatSession, Conversation, Message, PrismaClient } from './generated/prisma/client.ts';
import type { Viewer } from './auth.ts';
import { inOwnConversation, ownConversations } from './access.ts';
import { loadMessagePages, type MessagePageKey } from './messages/pages.ts';
import { loadChatSessionPages, type ChatSessionPageKey } from './chat-sessions/service.ts';

export type Loaders = ReturnType<typeof buildLoaders>;

/**
 * Each loader is built the first time it is used: a subscription refreshes its loaders for every event,
 * and most events (stream deltas) use none.
 */
export function createLoaders(prisma: PrismaClient, viewer: Viewer): Loaders {
  let built: Loaders | undefined;
  const all = () => (built ??= buildLoaders(prisma, viewer));
  return {
    get conversation() {
      return all().conversation;
    },
    get chatSession() {
      return all().chatSession;
    },
    get message() {
      return all().message;
    },
    get activeGeneration() {
      return all().activeGeneration;
    },
    get messagePage() {
      return all().messagePage;
    },
    get chatSessionPage() {
      return all().chatSessionPage;
    },
  };
}

const byJson = { cacheKeyFn: (key: unknown) => JSON.stringify(key) };

/** The row of each key, in the keys' order (null for none): one pass over the rows, not one per key. */
function inOrder<R>(keys: readonly string[], rows: R[], keyOf: (row: R) => string): (R | null)[] {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => byKey.get(key) ?? null);
}

function buildLoaders(prisma: PrismaClient, viewer: Viewer) {
  return {
    /** The viewer's conversations by id (null for another owner's or a missing one). */
    conversation: new DataLoader<string, Conversation | null>(async (ids) => {
      return inOrder(ids, await prisma.conversation.findMany({ where: { id: { in: [...ids] }, ...ownConversations(viewer) } }), (row) => row.id);
    }),
    chatSession: new DataLoader<string, ChatSession | null>(async (ids) => {
      return inOrder(ids, await prisma.chatSession.findMany({ where: { id: { in: [...ids] }, ...inOwnConversation(viewer) } }), (row) => row.id);
    }),
    message: new DataLoader<string, Message | null>(async (ids) => {
      return inOrder(ids, await prisma.message.findMany({ where: { id: { in: [...ids] }, ...inOwnConversation(viewer) } }), (row) => row.id);
    }),
    /** The STREAMING assistant message of each conversation, if any. */
    activeGeneration: new DataLoader<string, Message | null>(async (conversationIds) => {
      const rows = await prisma.message.findMany({ where: { conversationId: { in: [...conversationIds] }, status: 'STREAMING' } });
      return inOrder(conversationIds, rows, (row) => row.conversationId);
    }),
    messagePage: new DataLoader<MessagePageKey, Message[], string>((keys) => loadMessagePages(prisma, keys), byJson),
    chatSessionPage: new DataLoader<ChatSessionPageKey, ChatSession[], string>((keys) => loadChatSessionPages(prisma, keys), byJson),
  };
}
