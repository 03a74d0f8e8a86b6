// Storing a message: placed in its ACTIVE conversation's tree (under the current message unless told
// otherwise), made current, the counters moved in the same transaction, and MESSAGE_ADDED for its
// subscribers. Used by appendMessage, sendMessage and every later writer of messages.
import type { Conversation, Message, Prisma } from '../generated/prisma/client.ts';
import { ownConversations } from '../access.ts';
import { invalidField, isPrismaError, notFound } from '../errors.ts';
import type { Transaction } from '../idempotency.ts';
import { publishConversationEvent, type AppPubSub } from '../pubsub.ts';
import type { Access, InputLimits } from '../services.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { placeUnder } from './placement.ts';
import { previewOf } from './preview.ts';

export type StoredMessage = { message: Message; conversation: Conversation };

/** What a lane's row stores for each lane of its path: its number and where it starts, two integers. */
const LANE_PATH_BYTES = 8;

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
 * them, and a rolled-back insert leaves no trace. `lastCheck` runs once every check of the message's place
 * has passed, before it is written.
 */
export async function insertMessage(
  { viewer, config, rateLimiter }: Pick<Access, 'viewer'> & { config: Pick<InputLimits['config'], 'maxBranchLanes'>; rateLimiter: Pick<RateLimiter, 'bytes'> },
  tx: Transaction,
  message: NewMessage,
  parent: Parent = 'current',
  lastCheck?: () => Promise<void>,
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
  // A new lane's row holds its whole path, two integers a lane on the way: some 8 KB for a message beside
  // another deep in a branch, 39 times what its request was sent with. It counts as bytes the viewer sent.
  if (place.newLanePath > 0) await rateLimiter.bytes(viewer, place.newLanePath * LANE_PATH_BYTES);
  await lastCheck?.();
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
  return { message: created, conversation };
}

export function publishMessageAdded(pubsub: AppPubSub, { message, conversation }: StoredMessage): void {
  publishConversationEvent(pubsub, conversation, { type: 'MESSAGE_ADDED', conversationId: conversation.id, messageId: message.id });
}
