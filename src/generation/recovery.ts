// No message stays STREAMING forever: generations whose runner died are finished as INTERRUPTED with the
// text they had persisted.
import type { Logger } from '../logger.ts';
import type { RunnerDeps } from './runner.ts';
import { finishGeneration } from './finish.ts';
import { HEARTBEAT_INTERVAL_MS } from './persister.ts';

/** A runner that has not said it is alive for this long is taken for dead. */
export const STALE_AFTER_MS = HEARTBEAT_INTERVAL_MS * 3;

/**
 * `everyOther`: every STREAMING message not run by this instance (the embedded database has one process,
 * so at start they are all orphans); otherwise only those whose heartbeat is stale.
 */
export async function recoverAbandonedGenerations(
  deps: Pick<RunnerDeps, 'prisma' | 'eventLog' | 'pubsub' | 'runnerId'> & { log: Logger },
  { everyOther = false }: { everyOther?: boolean } = {},
): Promise<number> {
  const stale = new Date(Date.now() - STALE_AFTER_MS);
  const orphans = await deps.prisma.message.findMany({
    where: {
      status: 'STREAMING',
      AND: [
        { OR: [{ runnerId: null }, { runnerId: { not: deps.runnerId } }] },
        everyOther ? {} : { OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: stale } }] },
      ],
    },
    include: { conversation: { select: { id: true, orgId: true, userId: true } } },
  });
  let recovered = 0;
  for (const message of orphans) {
    // One message that cannot be finished (a row the code does not expect) is logged and left for the next
    // round; it never stops the others, nor the start of the server.
    try {
      const logged = await deps.eventLog.lastSequenceNumber(message.id);
      const done = await finishGeneration(deps, { messageId: message.id, conversation: message.conversation }, {
        sequenceNumber: Math.max(logged ?? 0, message.sequenceNumber) + 1,
        content: message.content,
        outcome: { status: 'INTERRUPTED', error: null },
      });
      if (done) recovered += 1;
    } catch (err) {
      deps.log.error({ err, messageId: message.id }, 'could not recover a generation left STREAMING; will try again');
    }
  }
  if (recovered) deps.log.warn({ recovered }, 'generations left STREAMING by a stopped server marked INTERRUPTED');
  return recovered;
}
