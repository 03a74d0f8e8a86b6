// Storing a message: placed in its ACTIVE conversation's tree (under the current message unless told
// otherwise), made current, the counters moved in the same transaction, and MESSAGE_ADDED for its
// subscribers. Used by appendMessage, sendMessage and every later writer of messages.
import type { Conversation, Message, Prisma } from '../generated/prisma/client.ts';
import { ownConversations } from '../access.ts';
import { invalidField, isPrismaError, notFound } from '../errors.ts';
import type { Transaction } from '../idempotency.ts';
import { publishConversationEvent, type AppPubSub } from '../pubsub.ts';
import type { Access, InputLimits } from '../services.ts';
import { placeUnder } from './placement.ts';
import { previewOf } from './preview.ts';

/**
 * `newLaneBytes`: what the row of a lane the message started stores (a message beside another deep in a
 * branch: some 8 KB, 39 times what its request was sent with), counted toward the viewer's day of bytes
 * once the write is committed (rate-limit.ts, chargeStored).
 */
export type StoredMessage = { message: Message; conversation: Conversation; newLaneBytes?: number };

export type NewMessage = Omit<Prisma.MessageUncheckedCreateInput, 'id' | 'position' | 'parentId' | 'lane' | 'siblingIndex'> & { chatSessionId: string | null };

/**
 * Where a message goes: under the conversation's current message (`current`), under a message of the
 * conversation (a new branch when that message has children already), or as a first message (`first`).
 */
export type Parent = 'current' | 'first' | { messageId: string };

/**
 * Inserts a message into an ACTIVE conversation of the viewer, makes it the conversation's current
 * message and moves the counters, in the caller's transaction. The first write locks the conversation
 * row, so concurrent writers queue there: each finds the parent and the positions as the one before left
 * them, and a rolled-back insert leaves no trace. `beforeWrite` runs once every check of the message's place
 * has passed, before it is written.
 */
export async function insertMessage(
  { viewer, config }: Pick<Access, 'viewer'> & { config: Pick<InputLimits['config'], 'maxBranchLanes'> },
  tx: Transaction,
  message: NewMessage,
  parent: Parent = 'current',
  { beforeWrite }: { beforeWrite?: () => Promise<void> } = {},
): Promise<StoredMessage> {
  const now = new Date();
  let locked: Conversation;
  try {
    locked = await tx.conversation.update({
      where: { id: message.conversationId, ...ownConversations(viewer), status: 'ACTIVE' },
      data: { totalTokens: { increment: message.tokens ?? 0 }, lastMessageAt: now, lastActivityAt: now, updatedAt: now },
    });
  } catch (error) {
    if (isPrismaError(error, 'P2025')) throw notFound('Conversation');
    throw error;
  }
  if (message.chatSessionId) {
    const { count } = await tx.chatSession.updateMany({
      where: { id: message.chatSessionId, conversationId: locked.id, status: 'ACTIVE' },
      data: { updatedAt: now },
    });
    if (count === 0) throw invalidField('chatSessionId', 'the chat session is completed');
  }
  const parentId = parent === 'current' ? locked.currentMessageId : parent === 'first' ? null : parent.messageId;
  const place = await placeUnder(tx, locked.id, parentId, config.maxBranchLanes);
  await beforeWrite?.();
  const created = await tx.message.create({
    data: { ...message, parentId: place.parentId, position: place.position, lane: place.lane, siblingIndex: place.siblingIndex, createdAt: now },
  });
  const conversation = await tx.conversation.update({
    where: { id: locked.id },
    data: {
      currentMessageId: created.id,
      messageCount: place.position,
      // A reply that is only starting has no text yet: the preview is of the message it answers.
      preview: message.status === 'STREAMING' ? place.parentPreview : previewOf(message.content ?? ''),
    },
  });
  return { message: created, conversation, newLaneBytes: place.newLaneBytes };
}

export function publishMessageAdded(pubsub: AppPubSub, { message, conversation }: StoredMessage): void {
  publishConversationEvent(pubsub, conversation, { type: 'MESSAGE_ADDED', conversationId: conversation.id, messageId: message.id });
}
