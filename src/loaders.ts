// Per-request batching: every row a resolver needs by id is loaded once per request, in one query per kind.
// Rows come without their stored values (src/stored-values.ts): the fields that show them read them apart.
import DataLoader from 'dataloader';
import { Prisma, type ChatSession, type Conversation, type Message, type PrismaClient } from './generated/prisma/client.ts';
import type { Viewer } from './auth.ts';
import type { ReadRows } from './row-reads.ts';
import { inOwnConversation, ownConversationsSql } from './access.ts';
import { loadBranchPages, loadSessionPages, type BranchPageKey, type SessionPageKey } from './messages/pages.ts';
import { loadSiblingCounts, loadSiblings, type SiblingKey } from './messages/siblings.ts';
import { loadChatSessionPages, type ChatSessionPageKey } from './chat-sessions/service.ts';
import type { RateLimiter } from './rate-limit.ts';
import { scan } from './scans.ts';
import { selectList } from './row-reads.ts';
import { CONVERSATION_ROW_COLUMNS, OMIT_STORED_VALUES, StoredValues } from './stored-values.ts';
import { MAX_RESPONSE_BYTES } from './response-limits.ts';
import { streamingMessagesOfSql } from './generation/streaming-rows.ts';

export type Loaders = ReturnType<typeof buildLoaders>;

/**
 * Where loaders read from: Prisma, and the driver straight for the hot pages; and the rate limiter their
 * scans are charged to (scans.ts), but for loaders of subscription events (`scansCharged: false`).
 */
export type LoaderSources = { prisma: PrismaClient; readRows: ReadRows; rateLimiter: RateLimiter; scansCharged?: boolean };

/**
 * Each loader is built the first time it is used: a subscription refreshes its loaders for every event,
 * and most events (stream deltas) use none. A class, so that what each request or idle subscription
 * holds is three fields, its getters shared on the prototype.
 */
class LazyLoaders implements Loaders {
  readonly #sources: LoaderSources;
  readonly #viewer: Viewer;
  #built: Loaders | undefined;

  constructor(sources: LoaderSources, viewer: Viewer) {
    this.#sources = sources;
    this.#viewer = viewer;
  }

  #all(): Loaders {
    return (this.#built ??= buildLoaders(this.#sources, this.#viewer));
  }

  get conversation() {
    return this.#all().conversation;
  }
  get chatSession() {
    return this.#all().chatSession;
  }
  get message() {
    return this.#all().message;
  }
  get activeGeneration() {
    return this.#all().activeGeneration;
  }
  get branchPage() {
    return this.#all().branchPage;
  }
  get sessionMessagePage() {
    return this.#all().sessionMessagePage;
  }
  get siblingCount() {
    return this.#all().siblingCount;
  }
  get sibling() {
    return this.#all().sibling;
  }
  get chatSessionPage() {
    return this.#all().chatSessionPage;
  }
  get storedValues() {
    return this.#all().storedValues;
  }
}

export function createLoaders(sources: LoaderSources, viewer: Viewer): Loaders {
  return new LazyLoaders(sources, viewer);
}

/**
 * The viewer's conversations of these ids. Found by their ids first (OFFSET 0 keeps the two steps apart), then
 * kept if the viewer's: planned for any values (src/postgres-pool.ts), the plan cannot count the ids, guesses
 * ten, and read every conversation of the viewer by the owner's index instead, 1.45 ms for an owner of 5,000.
 */
export function ownConversationsByIdSql(viewer: Viewer, ids: readonly string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT ${selectList('c', CONVERSATION_ROW_COLUMNS)}
    FROM (SELECT * FROM "Conversation" AS c WHERE c."id" = ANY(${[...ids]}::text[]) OFFSET 0) AS c
    WHERE ${ownConversationsSql(viewer, 'c')}`;
}

const byJson = { cacheKeyFn: (key: unknown) => JSON.stringify(key) };

/** The row of each key, in the keys' order (null for none): one pass over the rows, not one per key. */
function inOrder<R>(keys: readonly string[], rows: R[], keyOf: (row: R) => string): (R | null)[] {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => byKey.get(key) ?? null);
}

function buildLoaders({ prisma, readRows, rateLimiter, scansCharged = true }: LoaderSources, viewer: Viewer) {
  return {
    /** The viewer's conversations by id (null for another owner's or a missing one). */
    conversation: new DataLoader<string, Conversation | null>(async (ids) => {
      const rows = await readRows<Conversation>(ownConversationsByIdSql(viewer, ids));
      return inOrder(ids, rows, (row) => row.id);
    }),
    chatSession: new DataLoader<string, ChatSession | null>(async (ids) => {
      return inOrder(ids, await prisma.chatSession.findMany({ where: { id: { in: [...ids] }, ...inOwnConversation(viewer) } }), (row) => row.id);
    }),
    message: new DataLoader<string, Message | null>(async (ids) => {
      const rows = await prisma.message.findMany({ where: { id: { in: [...ids] }, ...inOwnConversation(viewer) }, omit: OMIT_STORED_VALUES.message });
      return inOrder(ids, rows as Message[], (row) => row.id);
    }),
    /** The STREAMING assistant message of each conversation, if any. */
    activeGeneration: new DataLoader<string, Message | null>(async (conversationIds) => {
      const rows = await readRows<Message>(streamingMessagesOfSql(conversationIds));
      return inOrder(conversationIds, rows, (row) => row.conversationId);
    }),
    branchPage: new DataLoader<BranchPageKey, Message[], string>((keys) => {
      const read = () => loadBranchPages(readRows, keys);
      // Filtered by role, a page reads through its branch until it has its rows: as far as its start, for none.
      return keys.some((key) => key.roles) ? scan({ rateLimiter, viewer }, read, { charged: scansCharged }) : read();
    }, byJson),
    sessionMessagePage: new DataLoader<SessionPageKey, Message[], string>((keys) => loadSessionPages(prisma, keys), byJson),
    /** How many children a message has (or first messages its conversation has): a sibling's count. */
    siblingCount: new DataLoader<Omit<SiblingKey, 'siblingIndex'>, number, string>((keys) => loadSiblingCounts(prisma, keys), byJson),
    /** A message by its place among its siblings (in a conversation the viewer owns: keys come from its messages). */
    sibling: new DataLoader<SiblingKey, Message | null, string>((keys) => loadSiblings(prisma, keys), byJson),
    chatSessionPage: new DataLoader<ChatSessionPageKey, ChatSession[], string>((keys) => loadChatSessionPages(prisma, keys), byJson),
    /** The stored values of the rows above (which come without them): each response reads them through a reader of its own, within what it may carry. */
    storedValues: new StoredValues(readRows, MAX_RESPONSE_BYTES),
  };
}
