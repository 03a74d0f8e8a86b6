// Storing a message: the next position of an ACTIVE conversation, its counters moved in the same
// transaction, and MESSAGE_ADDED for its subscribers. Used by appendMessage, sendMessage and every later
// writer of messages.
import type { Conversation, Message, Prisma } from '../generated/prisma/client.ts';
import { ownConversations } from '../access.ts';
import { invalidField, isPrismaError, notFound } from '../errors.ts';
import type { Transaction } from '../idempotency.ts';
import { publishConversationEvent, type AppPubSub } from '../pubsub.ts';
import type { Access } from '../services.ts';

export type StoredMessage = { message: Message; conversation: Conversation };

export type NewMessage = Omit<Prisma.MessageUncheckedCreateInput, 'position' | 'id'> & { chatSessionId: string | null };

export const PREVIEW_CHARS = 100;

/** First 100 characters (code points, so an emoji is never cut in half). */
export function previewOf(content: string): string {
  let preview = '';
  let count = 0;
  for (const char of content) {
    if (count++ === PREVIEW_CHARS) break;
    preview += char;
  }
  return preview;
}

/**
 * Inserts a message at the next position of an ACTIVE conversation of the viewer and moves its counters,
 * in the caller's transaction. Incrementing messageCount locks the conversation row, so concurrent appends
 * queue there and positions stay gapless; a rolled-back append gives its position back.
 */
export async function insertMessage({ viewer }: Pick<Access, 'viewer'>, tx: Transaction, message: NewMessage): Promise<StoredMessage> {
  const now = new Date();
  const tokens = message.tokens ?? 0;
  let conversation: Conversation;
  try {
    conversation = await tx.conversation.update({
      where: { id: message.conversationId, ...ownConversations(viewer), status: 'ACTIVE' },
      data: {
        messageCount: { increment: 1 },
        totalTokens: { increment: tokens },
        // A reply that is only starting has no text yet: the preview stays on the message before it.
        preview: message.status === 'STREAMING' ? undefined : previewOf(message.content ?? ''),
        lastMessageAt: now,
        updatedAt: now,
      },
    });
  } catch (error) {
    if (isPrismaError(error, 'P2025')) throw notFound('Conversation');
    throw error;
  }
  if (message.chatSessionId) {
    const { count } = await tx.chatSession.updateMany({
      where: { id: message.chatSessionId, conversationId: conversation.id, status: 'ACTIVE' },
      data: { updatedAt: now },
    });
    if (count === 0) throw invalidField('chatSessionId', 'the chat session is completed');
  }
  const created = await tx.message.create({
    data: { ...message, position: conversation.messageCount, createdAt: now },
  });
  return { message: created, conversation };
}

export function publishMessageAdded(pubsub: AppPubSub, { message, conversation }: StoredMessage): void {
  publishConversationEvent(pubsub, conversation, { type: 'MESSAGE_ADDED', conversationId: conversation.id, messageId: message.id });
}
