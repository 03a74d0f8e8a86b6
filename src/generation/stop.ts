// Stopping a generation wherever in the deployment it runs: the instance running it aborts the provider
// call and finishes the message; if none does in time (its instance is gone), the message is finished here.
import type { Message } from '../generated/prisma/client.ts';
import type { GenerationStopDeps } from '../services.ts';
import { isTerminal, type StreamEvent } from '../streams/events.ts';
import { finishGeneration, persistedReply, terminalNumberFor } from './finish.ts';
import { HEARTBEAT_INTERVAL_MS } from './persister.ts';
import { isResultOf, type RecordId } from '../idempotency.ts';
import { withTimeout } from '../timeout.ts';
import { streamingMessageOf } from './streaming-rows.ts';

/** How long a stop waits for the runner to end the message before it finishes the message itself. */
const STOP_WAIT_MS = 5_000;
/** Attempts at finishing a message whose runner does not answer, a wait apart. */
const FORCED_STOP_ROUNDS = 3;

/**
 * Cancels the conversation's running generation, if any, and waits for it to end; `unlessResultOf`: a
 * request's idempotency key, whose own reply (a first attempt's, when this is a repeat) is left running.
 */
export async function stopActiveGeneration(deps: GenerationStopDeps, conversationId: string, unlessResultOf?: RecordId): Promise<void> {
  const active = await streamingMessageOf(deps.prisma, conversationId);
  if (!active || (unlessResultOf && (await isResultOf(deps.prisma, unlessResultOf, active.id)))) return;
  await stopGeneration(deps, active);
}

/** Stops the provider call, keeps the partial text and sets CANCELLED; waits for the end of the message. */
export async function stopGeneration(deps: GenerationStopDeps, message: Pick<Message, 'id'>): Promise<void> {
  const terminal = waitForTerminal(deps, message.id, STOP_WAIT_MS);
  // The instance running it, this one or another, aborts it and finishes the message.
  if (!deps.generation.cancel(message.id)) deps.pubsub.publish('generation:cancel', message.id);
  if (await terminal) {
    // Run here, its runner gives the viewer's place back just after: a turn that stopped it to start its own
    // (INTERRUPT) must find it free. (Bounded: a runner slow to return leaves it taken a little longer.)
    await withTimeout(deps.generation.ended(message.id), STOP_WAIT_MS).catch(() => {});
    return;
  }
  // Nobody finished it in time. Its instance may be gone: then it is finished here with what was
  // persisted, once its heartbeat has been quiet long enough to tell it from a runner that is only slow.
  for (let round = 0; round < FORCED_STOP_ROUNDS; round++) {
    const current = await deps.prisma.message.findUnique({ where: { id: message.id }, include: { conversation: { select: { id: true, orgId: true, userId: true } } } });
    if (!current || current.status !== 'STREAMING') return;
    const logged = await deps.eventLog.lastSequenceNumber(message.id);
    const finished = await finishGeneration(deps, { messageId: message.id, conversation: current.conversation }, {
      sequenceNumber: terminalNumberFor(logged, current),
      reply: persistedReply(current),
      outcome: { status: 'CANCELLED', error: null },
      ifQuietForMs: HEARTBEAT_INTERVAL_MS + STOP_WAIT_MS / 2,
    });
    if (finished || (await waitForTerminal(deps, message.id, STOP_WAIT_MS))) return;
  }
}

/**
 * True once the message's stream has ended (or it is no longer STREAMING), false after timeoutMs: the look-ups
 * of the log count toward it too (with Redis away they wait for it; an INTERRUPT turn queued behind this stop
 * would wait as long).
 */
async function waitForTerminal(deps: GenerationStopDeps, messageId: string, timeoutMs: number): Promise<boolean> {
  let timedOut = false;
  let events: AsyncIterableIterator<StreamEvent> | null = null;
  const ended = (async () => {
    // From the last event logged (which may be the terminal one already), not a replay of the whole reply.
    const last = await deps.eventLog.lastSequenceNumber(messageId);
    events = await deps.eventLog.read(messageId, (last ?? 0) - 1);
    if (!events) return false;
    if (timedOut) {
      await events.return?.(); // given up on while the log was being looked up
      return false;
    }
    for await (const event of events) if (isTerminal(event)) return true;
    return false; // the log ended without its end (expired, or its writer gone)
  })().catch(() => false);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([ended, timeout]);
  } finally {
    clearTimeout(timer);
    timedOut = true;
    await (events as AsyncIterableIterator<StreamEvent> | null)?.return?.(); // (TypeScript takes it for null here)
  }
}
