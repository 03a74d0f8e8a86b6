// Chat sessions: a run of turns inside a conversation with its own model.
import { Prisma, type ChatSession, type PrismaClient } from '../generated/prisma/client.ts';
import type { ChatSessionDeps } from '../services.ts';
import { findOwnChatSession, findOwnConversation } from '../access.ts';
import { notFound } from '../errors.ts';
import { checkModel } from '../validation.ts';
import { publishConversationEvent } from '../pubsub.ts';
import { cursorCodec, isTimeAndId, type PageRequest } from '../pagination/connection.ts';

export async function createChatSession(ctx: ChatSessionDeps, input: { conversationId: string; model: string }): Promise<ChatSession> {
  checkModel(ctx.models, input.model);
  const conversation = await findOwnConversation(ctx, input.conversationId);
  if (conversation.status !== 'ACTIVE') throw notFound('Conversation');
  const session = await ctx.prisma.chatSession.create({ data: { conversationId: conversation.id, model: input.model } });
  publishConversationEvent(ctx.pubsub, conversation, { type: 'CONVERSATION_UPDATED', conversationId: conversation.id, messageId: null });
  return session;
}

/** Completing a completed session returns it unchanged. */
export async function completeChatSession(ctx: ChatSessionDeps, id: string): Promise<ChatSession> {
  const session = await findOwnChatSession(ctx, id);
  if (session.status === 'COMPLETED') return session;
  await ctx.prisma.chatSession.updateMany({ where: { id, status: 'ACTIVE' }, data: { status: 'COMPLETED', updatedAt: new Date() } });
  const completed = await findOwnChatSession(ctx, id);
  const conversation = await findOwnConversation(ctx, completed.conversationId);
  publishConversationEvent(ctx.pubsub, conversation, { type: 'CONVERSATION_UPDATED', conversationId: conversation.id, messageId: null });
  return completed;
}

// ---- pages of a conversation's sessions, oldest first, many conversations in one query ----

export const chatSessionCursor = cursorCodec<[number, string]>('chatSessions', isTimeAndId);
export const DEFAULT_CHAT_SESSION_PAGE = 20;

export type ChatSessionPageKey = { conversationId: string; request: PageRequest<[number, string]> };

export async function loadChatSessionPages(prisma: PrismaClient, keys: readonly ChatSessionPageKey[]): Promise<ChatSession[][]> {
  const groups = new Map<string, ChatSessionPageKey[]>();
  for (const key of keys) {
    const shape = JSON.stringify(key.request);
    groups.set(shape, [...(groups.get(shape) ?? []), key]);
  }
  const rowsByKey = new Map<ChatSessionPageKey, ChatSession[]>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const { request } = group[0];
      const rows = await prisma.$queryRaw<ChatSession[]>(pageQuery([...new Set(group.map((k) => k.conversationId))], request));
      for (const key of group) rowsByKey.set(key, rows.filter((row) => row.conversationId === key.conversationId));
    }),
  );
  return keys.map((key) => rowsByKey.get(key)!);
}

function pageQuery(conversationIds: string[], request: PageRequest<[number, string]>) {
  const conditions = [Prisma.sql`s."conversationId" = p.id`];
  if (request.after) conditions.push(Prisma.sql`(s."createdAt", s.id) > (${new Date(request.after[0])}::timestamp(3), ${request.after[1]})`);
  if (request.before) conditions.push(Prisma.sql`(s."createdAt", s.id) < (${new Date(request.before[0])}::timestamp(3), ${request.before[1]})`);
  const direction = Prisma.raw(request.backward ? 'DESC' : 'ASC');
  return Prisma.sql`
    SELECT page.* FROM unnest(${conversationIds}::text[]) AS p(id)
    CROSS JOIN LATERAL (
      SELECT s.* FROM "ChatSession" s WHERE ${Prisma.join(conditions, ' AND ')}
      ORDER BY s."createdAt" ${direction}, s.id ${direction} LIMIT ${request.limit + 1}
    ) page`;
}
