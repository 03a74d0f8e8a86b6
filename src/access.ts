// Ownership, written once. A conversation belongs to the (org, user) that created it; its messages and
// chat sessions inherit that. Every read on behalf of a viewer goes through these filters and look-ups,
// which answer NOT_FOUND alike for a missing row and for another owner's.
import { Prisma, type ChatSession, type Conversation, type Message } from './generated/prisma/client.ts';
import type { Viewer } from './auth.ts';
import { notFound } from './errors.ts';
import type { Access } from './services.ts';

/** The owner columns of a viewer: `orgId` is '' without an organisation (see prisma/schema.prisma). */
export type Owner = { orgId: string; userId: string };

export function ownerOf(viewer: Pick<Viewer, 'orgId' | 'userId'>): Owner {
  return { orgId: viewer.orgId ?? '', userId: viewer.userId };
}

/** Whose, by ids alone: a viewer, or the owner of a row (a conversation's). */
export type OwnerIds = Pick<Viewer, 'orgId' | 'userId'>;

/** One string per owner: pubsub topics and rate-limit counters are keyed by it. */
export function ownerKey(owner: OwnerIds): string {
  const { orgId, userId } = ownerOf(owner);
  return JSON.stringify([orgId, userId]);
}

/** The viewer's conversations. */
export const ownConversations = (viewer: Viewer): Owner => ownerOf(viewer);

/** The same in SQL, for the reads written as SQL: `alias` names the "Conversation" row. */
export function ownConversationsSql(viewer: Viewer, alias: string): Prisma.Sql {
  const { orgId, userId } = ownerOf(viewer);
  return Prisma.sql`${Prisma.raw(alias)}."orgId" = ${orgId} AND ${Prisma.raw(alias)}."userId" = ${userId}`;
}

/** Rows that belong to one of the viewer's conversations: messages and chat sessions. */
export const inOwnConversation = (viewer: Viewer) => ({ conversation: ownerOf(viewer) });

/** The viewer's conversation, whatever its status, or NOT_FOUND. */
export async function findOwnConversation({ prisma, viewer }: Access, id: string): Promise<Conversation> {
  const conversation = await prisma.conversation.findFirst({ where: { id, ...ownConversations(viewer) } });
  if (!conversation) throw notFound('Conversation');
  return conversation;
}

export async function findOwnChatSession({ prisma, viewer }: Access, id: string): Promise<ChatSession> {
  const session = await prisma.chatSession.findFirst({ where: { id, ...inOwnConversation(viewer) } });
  if (!session) throw notFound('Chat session');
  return session;
}

export async function findOwnMessage({ prisma, viewer }: Access, id: string): Promise<Message> {
  const message = await prisma.message.findFirst({ where: { id, ...inOwnConversation(viewer) } });
  if (!message) throw notFound('Message');
  return message;
}
