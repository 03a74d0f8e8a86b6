// Finishing a generated message, written once for everyone who finishes one: the runner at the end of a
// reply, a forced cancel, and recovery of a message whose instance died. Also the terminal event of a
// finished message as its row tells it.
import type { Conversation, Message, PrismaClient } from '../generated/prisma/client.ts';
import type { Usage } from '../models/reply.ts';
import { publishConversationEvent, type AppPubSub } from '../pubsub.ts';
import { previewOf } from '../messages/store.ts';
import { countTokens } from '../tokens.ts';
import type { GenerationEventLog } from '../streams/event-log.ts';
import type { StreamEvent } from '../streams/events.ts';

export type Outcome =
  | { status: 'COMPLETED' | 'CANCELLED' | 'INTERRUPTED'; error: null }
  | { status: 'FAILED'; error: string };

/** What a finisher writes to: the message, and its conversation (whose owner hears of it). */
export type Finishing = { messageId: string; conversation: Pick<Conversation, 'id' | 'orgId' | 'userId'> };

export type Finish = { sequenceNumber: number; content: string; usage?: Usage; outcome: Outcome };

export type FinishDeps = { prisma: PrismaClient; eventLog: GenerationEventLog; pubsub: AppPubSub };

/**
 * Writes the final state of a generated message and its conversation's counters in one statement (one
 * round trip: it runs while other generations stream), then logs the terminal event and tells
 * subscribers. Only a message still STREAMING is finished, so two finishers (a runner and a forced
 * cancel, say) cannot both count its tokens.
 */
export async function finishGeneration(deps: FinishDeps, { messageId, conversation }: Finishing, { sequenceNumber, content, usage, outcome }: Finish): Promise<boolean> {
  const tokens = usage?.outputTokens ?? (await countTokens(content));
  const now = new Date();
  // The conversation is counted only when the message was finished here.
  const [{ finished: finishedHere }] = await deps.prisma.$queryRaw<{ finished: boolean }[]>`
    WITH finished AS (
      UPDATE "Message"
      SET "content" = ${content}, "status" = ${outcome.status}::"MessageStatus", "error" = ${outcome.error}, "tokens" = ${tokens},
          "promptTokens" = ${usage?.inputTokens ?? null}::int, "completionTokens" = ${usage?.outputTokens ?? null}::int,
          "completedAt" = ${now}::timestamp(3), "sequenceNumber" = ${sequenceNumber}, "runnerId" = NULL, "heartbeatAt" = NULL
      WHERE "id" = ${messageId} AND "status" = 'STREAMING'
      RETURNING 1
    ), counted AS (
      UPDATE "Conversation"
      SET "totalTokens" = "totalTokens" + ${tokens}, "preview" = ${previewOf(content)}, "updatedAt" = ${now}::timestamp(3)
      WHERE "id" = ${conversation.id} AND EXISTS (SELECT 1 FROM finished)
    )
    SELECT EXISTS (SELECT 1 FROM finished) AS finished`;
  // Not finished here (rare): finished by another, or purged meanwhile; a fresh read tells which.
  const finished = finishedHere || ((await deps.prisma.message.count({ where: { id: messageId } })) === 0 ? 'gone' : false);
  if (finished === 'gone') {
    // Purged while generating: end the log anyway, so that nobody waits on it.
    await deps.eventLog.append(messageId, { type: 'completed', sequenceNumber, status: 'CANCELLED' }).catch(() => undefined);
    return false;
  }
  if (!finished) return false;
  const terminal: StreamEvent =
    outcome.status === 'FAILED'
      ? { type: 'failed', sequenceNumber, code: 'PROVIDER_ERROR', error: outcome.error }
      : { type: 'completed', sequenceNumber, status: outcome.status };
  // The log may be gone (a recovered message whose process died): its subscribers read the database.
  await deps.eventLog.append(messageId, terminal).catch(() => undefined);
  publishConversationEvent(deps.pubsub, conversation, { type: 'MESSAGE_UPDATED', conversationId: conversation.id, messageId });
  return true;
}

/** The terminal event of a finished message, from its row. */
export function terminalEventOf(message: Message): StreamEvent {
  const sequenceNumber = Math.max(message.sequenceNumber, 1);
  if (message.status === 'FAILED') return { type: 'failed', sequenceNumber, code: 'PROVIDER_ERROR', error: message.error ?? 'The generation failed.' };
  return { type: 'completed', sequenceNumber, status: message.status === 'STREAMING' ? 'INTERRUPTED' : message.status };
}
