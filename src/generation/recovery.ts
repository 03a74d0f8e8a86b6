// No message stays STREAMING forever: generations whose runner is gone are finished as INTERRUPTED with
// the text they had persisted. Gone means: run by another instance that has stopped saying it is alive,
// or run by this one but no longer running here (a runner that gave up, a server that restarted).
import { setImmediate } from 'node:timers/promises';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { AppPubSub } from '../pubsub.ts';
import type { GenerationEventLog } from '../streams/event-log.ts';
import { finishGeneration, persistedReply, terminalNumberFor } from './finish.ts';
import { HEARTBEAT_INTERVAL_MS } from './persister.ts';
import { streamingMessages } from './streaming-rows.ts';

/** A runner that has not said it is alive for this long is taken for dead. */
export const STALE_AFTER_MS = HEARTBEAT_INTERVAL_MS * 3;

export type RecoveryDeps = {
  prisma: PrismaClient;
  eventLog: GenerationEventLog;
  pubsub: AppPubSub;
  log: Logger;
  /** This instance, as written in Message.runnerId, and what it is running now. */
  runnerId: string;
  isRunning: (messageId: string) => boolean;
  /** True once the server drains (SIGTERM, or closing): a pass stops after the message it is finishing. */
  stopped?: () => boolean;
};

/**
 * `everyOther`: every STREAMING message not run by this instance (the embedded database has one process,
 * so at start they are all orphans); otherwise only those whose heartbeat is stale.
 */
export async function recoverAbandonedGenerations(deps: RecoveryDeps, { everyOther = false }: { everyOther?: boolean } = {}): Promise<number> {
  const stale = new Date(Date.now() - STALE_AFTER_MS);
  // STREAMING rows are few (a partial index holds just them): their ids first, then each abandoned one whole.
  const streaming = await streamingMessages(deps.prisma);
  // A message of this instance's that is not running here has been quiet a while: not one just stored
  // whose runner is starting.
  const quiet = new Date(Date.now() - HEARTBEAT_INTERVAL_MS);
  const abandoned = streaming.filter(({ id, runnerId, heartbeatAt }) => {
    if (deps.isRunning(id)) return false;
    if (runnerId === deps.runnerId) return heartbeatAt === null || heartbeatAt < quiet;
    return everyOther || runnerId === null || heartbeatAt === null || heartbeatAt < stale;
  });
  let recovered = 0;
  for (const { id } of abandoned) {
    // Requests that came meanwhile go first (the embedded database answers one statement at a time).
    await setImmediate();
    if (deps.stopped?.()) break;
    // One message that cannot be finished (a row the code does not expect) is logged and left for the next
    // round; it never stops the others, nor the start of the server.
    try {
      const message = await deps.prisma.message.findUnique({ where: { id }, include: { conversation: { select: { id: true, orgId: true, userId: true } } } });
      if (message?.status !== 'STREAMING') continue; // finished meanwhile
      const logged = await deps.eventLog.lastSequenceNumber(message.id);
      const done = await finishGeneration(deps, { messageId: message.id, conversation: message.conversation }, {
        sequenceNumber: terminalNumberFor(logged, message),
        reply: persistedReply(message),
        outcome: { status: 'INTERRUPTED', error: null },
        // Checked again as it is written: a runner that spoke since it was read keeps its reply.
        ifQuietForMs: everyOther ? undefined : message.runnerId === deps.runnerId ? HEARTBEAT_INTERVAL_MS : STALE_AFTER_MS,
      });
      if (done) recovered += 1;
    } catch (err) {
      deps.log.error({ err, messageId: id }, 'could not recover a generation left STREAMING; will try again');
    }
  }
  if (recovered) deps.log.warn({ recovered }, 'generations left STREAMING by a stopped runner marked INTERRUPTED');
  return recovered;
}
