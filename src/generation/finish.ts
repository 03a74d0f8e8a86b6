// Finishing a generated message, written once for everyone who finishes one: the runner at the end of a
// reply, a forced cancel, and recovery of a message whose instance died. Also the terminal event of a
// finished message as its row tells it.
import { Prisma, type Conversation, type Message, type PrismaClient } from '../generated/prisma/client.ts';
import type { FinishReason, Usage } from '../models/reply.ts';
import { callText, type ReasoningPart, type StoredToolCall } from './assembled-reply.ts';
import { publishConversationEvent, type AppPubSub } from '../pubsub.ts';
import { previewOf } from '../messages/preview.ts';
import { countTokens } from '../tokens.ts';
import type { GenerationEventLog } from '../streams/event-log.ts';
import type { FinishedStatus, StreamEvent } from '../streams/events.ts';
import type { Logger } from '../logger.ts';

export type Outcome =
  | { status: 'COMPLETED' | 'CANCELLED' | 'INTERRUPTED'; error: null }
  | { status: 'FAILED'; error: string };

/** What a finisher writes to: the message, and its conversation (whose owner hears of it). */
export type Finishing = { messageId: string; conversation: Pick<Conversation, 'id' | 'orgId' | 'userId'> };

/** What a reply holds when it ends: the runner's assembled reply, or what a message had persisted. */
export type FinishedReply = {
  content: string;
  reasoning: string;
  toolCalls: StoredToolCall[];
  reasoningParts: ReasoningPart[];
  usage?: Usage;
  finishReason?: FinishReason;
};

export type Finish = {
  sequenceNumber: number;
  outcome: Outcome;
  /**
   * For finishers other than the runner: only if the message has said nothing (heartbeat) for this long,
   * checked by the database in the same statement, so a runner alive after all keeps its reply.
   */
  ifQuietForMs?: number;
} & ({ reply: FinishedReply; /** The server's count of the reply's text and calls, when the finisher has it already. */ counted?: number } | { keepPersistedContent: true });

/** A message's reply as it was persisted while streaming (recovery and forced cancels finish with it). */
export function persistedReply(message: Pick<Message, 'content' | 'reasoning' | 'toolCalls'>): FinishedReply {
  return { content: message.content, reasoning: message.reasoning ?? '', toolCalls: (message.toolCalls as StoredToolCall[] | null) ?? [], reasoningParts: [] };
}

export type FinishDeps = { prisma: PrismaClient; eventLog: GenerationEventLog; pubsub: AppPubSub; log: Logger };

/**
 * Writes the final state of a generated message and its conversation's counters in one statement (one
 * round trip: it runs while other generations stream), then logs the terminal event and tells
 * subscribers. Only a message still STREAMING is finished, so two finishers (a runner and a forced
 * cancel, say) cannot both count its tokens. With `keepPersistedContent` the message keeps the text it
 * has and the conversation's counters are left alone (the last resort when the full write is refused).
 */
export async function finishGeneration(deps: FinishDeps, { messageId, conversation }: Finishing, finish: Finish): Promise<boolean> {
  const { sequenceNumber, outcome } = finish;
  const finishedHere = 'reply' in finish ? await writeFinished(deps.prisma, messageId, conversation.id, finish) : await writeOutcomeOnly(deps.prisma, messageId, finish);
  // Not finished here (rare): finished by another, or purged meanwhile; a fresh read tells which.
  const finished = finishedHere || ((await deps.prisma.message.count({ where: { id: messageId } })) === 0 ? 'gone' : false);
  if (finished === false) return false;
  const terminal: StreamEvent =
    finished === 'gone'
      ? { type: 'completed', sequenceNumber, status: 'CANCELLED' } // purged while generating: end the log anyway, so that nobody waits on it
      : outcome.status === 'FAILED'
        ? { type: 'failed', sequenceNumber, code: 'PROVIDER_ERROR', error: outcome.error }
        : { type: 'completed', sequenceNumber, status: outcome.status };
  // The log may be gone (a recovered message whose process died): its subscribers read the database, and
  // a follower whose log stays silent looks there too (stream.ts), so a lost terminal event ends nobody's wait.
  await deps.eventLog.append(messageId, terminal).catch((err) => deps.log.warn({ err, messageId }, 'could not log the terminal event; followers will read it from the database'));
  if (finished === 'gone') return false;
  publishConversationEvent(deps.pubsub, conversation, { type: 'MESSAGE_UPDATED', conversationId: conversation.id, messageId });
  return true;
}

async function writeFinished(prisma: PrismaClient, messageId: string, conversationId: string, finish: Extract<Finish, { reply: FinishedReply }>): Promise<boolean> {
  const { sequenceNumber, outcome, reply } = finish;
  const { content, usage } = reply;
  const windowTokens = finish.counted ?? (await countTokens(content + reply.toolCalls.map(callText).join('')));
  const tokens = usage?.outputTokens ?? windowTokens;
  const json = (value: unknown[]) => (value.length ? JSON.stringify(value) : null);
  const now = new Date();
  // The conversation is counted only when the message was finished here.
  const [{ finished }] = await prisma.$queryRaw<{ finished: boolean }[]>`
    WITH finished AS (
      UPDATE "Message"
      SET "content" = ${content}, "status" = ${outcome.status}::"MessageStatus", "error" = ${outcome.error}, "tokens" = ${tokens}, "windowTokens" = ${windowTokens},
          "reasoning" = ${reply.reasoning || null}, "reasoningParts" = ${json(reply.reasoningParts)}::jsonb, "toolCalls" = ${json(reply.toolCalls)}::jsonb,
          "finishReason" = ${finishReasonOf(outcome, reply)}::"FinishReason",
          "promptTokens" = ${usage?.inputTokens ?? null}::int, "completionTokens" = ${usage?.outputTokens ?? null}::int,
          "reasoningTokens" = ${usage?.reasoningTokens ?? null}::int, "cachedPromptTokens" = ${usage?.cachedInputTokens ?? null}::int,
          "completedAt" = ${now}::timestamp(3), "sequenceNumber" = ${sequenceNumber}, "runnerId" = NULL, "heartbeatAt" = NULL
      WHERE "id" = ${messageId} AND "status" = 'STREAMING' AND ${quietFor(finish.ifQuietForMs)}
      RETURNING 1
    ), counted AS (
      UPDATE "Conversation"
      SET "totalTokens" = "totalTokens" + ${tokens}, "updatedAt" = ${now}::timestamp(3),
          -- the preview follows the branch shown: another branch's reply leaves it
          "preview" = CASE WHEN "currentMessageId" = ${messageId} THEN ${previewOf(content)} ELSE "preview" END
      WHERE "id" = ${conversationId} AND EXISTS (SELECT 1 FROM finished)
    )
    SELECT EXISTS (SELECT 1 FROM finished) AS finished`;
  return finished;
}

/** The condition of `ifQuietForMs`, in the database's own time. */
function quietFor(ms: number | undefined): Prisma.Sql {
  if (ms === undefined) return Prisma.sql`TRUE`;
  // Columns hold UTC wall time (as Prisma writes them).
  return Prisma.sql`("heartbeatAt" IS NULL OR "heartbeatAt" < (now() AT TIME ZONE 'UTC') - make_interval(secs => ${ms / 1000}::double precision))`;
}

/** Why the model stopped, for a reply that did finish: as the provider said, else by what it holds. */
function finishReasonOf(outcome: Outcome, reply: FinishedReply): FinishReason | null {
  if (outcome.status === 'FAILED') return 'ERROR';
  if (outcome.status !== 'COMPLETED') return null; // stopped before the model did
  return reply.finishReason ?? (reply.toolCalls.length ? 'TOOL_CALLS' : 'STOP');
}

async function writeOutcomeOnly(prisma: PrismaClient, messageId: string, { sequenceNumber, outcome, ifQuietForMs }: Finish): Promise<boolean> {
  const count = await prisma.$executeRaw`
    UPDATE "Message"
    SET "status" = ${outcome.status}::"MessageStatus", "error" = ${outcome.error}, "completedAt" = ${new Date()}::timestamp(3),
        "sequenceNumber" = ${sequenceNumber}, "runnerId" = NULL, "heartbeatAt" = NULL
    WHERE "id" = ${messageId} AND "status" = 'STREAMING' AND ${quietFor(ifQuietForMs)}`;
  return count > 0;
}

/**
 * The number of the terminal event that a finisher other than the runner gives a message: after the last
 * event logged when the log is there (it holds everything delivered), else after the message's sequence
 * ceiling, which no delivered event exceeds (see persister.ts).
 */
export function terminalNumberFor(logged: number | null, message: Pick<Message, 'sequenceNumber'>): number {
  return (logged ?? message.sequenceNumber) + 1;
}

/** The terminal event of a finished message, from its row; numbered as the row says unless told otherwise. */
export function terminalEventOf(message: Pick<Message, 'status' | 'error' | 'sequenceNumber'>, sequenceNumber = Math.max(message.sequenceNumber, 1)): StreamEvent {
  if (message.status === 'FAILED') return { type: 'failed', sequenceNumber, code: 'PROVIDER_ERROR', error: message.error ?? 'The generation failed.' };
  return { type: 'completed', sequenceNumber, status: message.status as FinishedStatus };
}
