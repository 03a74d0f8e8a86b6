// The stream of one assistant message: its numbered events above a number, replayed then live, from the
// event log of whichever instance generates it; the database stands in where the log is gone.
import type { StreamDeps } from '../services.ts';
import { findOwnMessage } from '../access.ts';
import { invalidField } from '../errors.ts';
import { isTerminal, type StreamEvent } from '../streams/events.ts';
import { terminalEventOf } from './finish.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import { outsideAnyRequest } from '../observability/request-context.ts';

export type MessageStreamPayload = { messageId: string; event: StreamEvent };

/** How often a subscriber to a message whose log is not (yet) here looks at the database again. */
const POLL_MS = 250;
/**
 * A generation that finished this recently may still be having its log copied (after a Redis outage, say):
 * its subscribers wait for the log rather than jump to the terminal event.
 */
const LOG_SETTLE_MS = 15_000;

/**
 * The numbered events of an assistant message above `after`: replayed, then live, ending after the
 * terminal event. Without a log (retention ran out, or the message was never generated), the terminal
 * event alone, built from the database, which carries the whole message.
 */
export async function openMessageStream(deps: StreamDeps, messageId: string, after: number): Promise<AsyncIterable<MessageStreamPayload>> {
  if (!Number.isInteger(after) || after < -1) throw invalidField('afterSequenceNumber', 'must be an event number (0 or more), or -1 for all');
  const message = await findOwnMessage(deps, messageId);
  if (message.role !== 'ASSISTANT') throw invalidField('messageId', 'only assistant messages have a stream');
  return followMessage(deps, messageId, after);
}

/** openMessageStream for an assistant message known to be the viewer's: the one `chat` has just created. */
export function followMessage({ eventLog, prisma, followers }: Omit<StreamDeps, 'viewer'>, messageId: string, after: number): AsyncIterable<MessageStreamPayload> {
  const payload = (event: StreamEvent): MessageStreamPayload => ({ messageId, event });

  return (async function* () {
    const follower: Follower = { messageId, waitingSince: null, abandonLog: () => {} };
    const release = followers.add(follower);
    let cursor = after;
    try {
      for (;;) {
        const events = await eventLog.read(messageId, cursor);
        if (events) {
          follower.abandonLog = () => void events.return?.();
          try {
            for (;;) {
              // Only while it waits on the log: one waiting on its client (who reads slowly) has events to send.
              follower.waitingSince = Date.now();
              const next = await events.next();
              follower.waitingSince = null;
              if (next.done) break;
              yield payload(next.value);
              cursor = next.value.sequenceNumber;
              if (isTerminal(next.value)) return;
            }
          } finally {
            follower.waitingSince = null;
            follower.abandonLog = () => {};
            await events.return?.();
          }
        }
        // No log, or it ended before its terminal event: the database tells whether the message is done.
        const current = await prisma.message.findUnique({ where: { id: messageId } });
        if (!current) return; // purged meanwhile
        if (current.status !== 'STREAMING') {
          const terminal = terminalEventOf(current);
          if (terminal.sequenceNumber <= cursor) return; // nothing after what this subscriber has
          // Mid-stream when the log went missing (a Redis restart, say): its writer may still be copying it
          // back, so wait a little rather than skip to the end; a log that expired gives the terminal alone.
          const midStream = cursor > after && current.completedAt !== null && Date.now() - current.completedAt.getTime() < LOG_SETTLE_MS;
          if (!midStream) {
            yield payload(terminal);
            return;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      release();
    }
  })();
}

/** `waitingSince`: when it began waiting on its log for the next event; null while it has one to hand on. */
type Follower = { messageId: string; waitingSince: number | null; abandonLog: () => void };

/** How long a follower's log may be silent before the database is asked whether the message has ended. */
const SILENT_LOG_MS = 5_000;

/**
 * The subscribers following message streams on this instance. Shutdown waits for them to receive their
 * ends. And a watch, every few seconds, over those that have waited on a silent log: a message the database
 * shows finished for a while, whose log never got its terminal event (an append lost with Redis, say),
 * has its follower stop waiting on the log and end from the database. One query for all of them, and
 * nothing per event but noting when the follower waits.
 */
export class MessageFollowers {
  readonly #prisma: PrismaClient;
  readonly #log: Logger;
  readonly #active = new Set<Follower>();
  readonly #whenNone: (() => void)[] = [];
  #watch: NodeJS.Timeout | null = null;

  constructor(prisma: PrismaClient, log: Logger) {
    this.#prisma = prisma;
    this.#log = log;
  }

  get count(): number {
    return this.#active.size;
  }

  /** A subscriber starts following; call the returned function when it stops. */
  add(follower: Follower): () => void {
    this.#active.add(follower);
    if (!this.#watch) {
      const check = () => void this.#checkSilent().catch((err) => this.#log.warn({ err }, 'could not check silent streams'));
      this.#watch = outsideAnyRequest(() => setInterval(check, SILENT_LOG_MS / 2)); // it watches every follower's stream
      this.#watch.unref();
    }
    return () => {
      if (!this.#active.delete(follower) || this.#active.size > 0) return;
      if (this.#watch) clearInterval(this.#watch);
      this.#watch = null;
      for (const wake of this.#whenNone.splice(0)) wake();
    };
  }

  /** Waits (up to timeoutMs) for the subscribers here to receive the ends of their streams. */
  async done(timeoutMs: number): Promise<void> {
    if (this.#active.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => this.#whenNone.push(resolve)), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  async #checkSilent(): Promise<void> {
    const now = Date.now();
    // A follower held up by its client is not waiting on its log: taken for silent, it skipped to the end and
    // its client lost the events between (a slow reader of a long reply that had finished a while ago).
    const silent = [...this.#active].filter((f) => f.waitingSince !== null && now - f.waitingSince >= SILENT_LOG_MS);
    if (silent.length === 0) return;
    const ids = [...new Set(silent.map((f) => f.messageId))];
    const rows = await this.#prisma.message.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, completedAt: true } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    const settled = new Date(now - LOG_SETTLE_MS);
    const ended = new Set(ids.filter((id) => {
      const row = byId.get(id);
      return !row || (row.status !== 'STREAMING' && row.completedAt !== null && row.completedAt < settled);
    }));
    for (const follower of silent) if (ended.has(follower.messageId)) follower.abandonLog();
  }
}
