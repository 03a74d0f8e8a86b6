// Persists the text of every running generation as it streams: one UPDATE per interval for all of them
// (content || new text), plus a heartbeat for those whose provider is quiet. A crash loses at most one
// interval of text, and a thousand streams cost four statements a second, not four thousand.
//
// It also keeps each message's sequence ceiling: while a message is STREAMING, its `sequenceNumber`
// column is a number no event delivered so far exceeds. The ceiling is reserved ahead, a block at a
// time, in the same UPDATE, and the runner delivers no event above what the database has confirmed. So
// after a crash that lost the event log, the message's terminal event can be numbered above anything a
// subscriber ever received.
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';

/** How often streamed text is written; the most a crash can lose. */
export const FLUSH_INTERVAL_MS = 250;
/** How often a running generation says it is alive, even while its provider is silent. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** Event numbers reserved at a time: a new message starts with this ceiling. */
export const SEQUENCE_BLOCK = 1_000;

type Pending = {
  text: string;
  lastWrite: number;
  /** The ceiling the database has; and the one asked for, written with the next flush. */
  ceiling: number;
  wantedCeiling: number;
  /** Runners waiting for the ceiling to reach a number. */
  waiters: { upTo: number; resolve: () => void }[];
};

export class StreamPersister {
  readonly #prisma: PrismaClient;
  readonly #log: Logger;
  readonly #active = new Map<string, Pending>();
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> | null = null;
  #failures = 0;

  constructor(prisma: PrismaClient, log: Logger) {
    this.#prisma = prisma;
    this.#log = log;
  }

  /** `ceiling`: the sequence ceiling the message was stored with. */
  track(messageId: string, ceiling: number): void {
    this.#active.set(messageId, { text: '', lastWrite: Date.now(), ceiling, wantedCeiling: ceiling, waiters: [] });
    this.#timer ??= setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  add(messageId: string, text: string): void {
    const pending = this.#active.get(messageId);
    if (pending) pending.text += text;
  }

  /**
   * Resolves once event `sequenceNumber` may be delivered: the database's ceiling is at least that. Asks
   * for the next block well before it is needed, so a runner waits only when it outruns the flushes (or
   * while the database is away: then the stream pauses, its text kept here).
   */
  reserve(messageId: string, sequenceNumber: number): Promise<void> | null {
    const pending = this.#active.get(messageId);
    if (!pending) return null;
    if (sequenceNumber > pending.wantedCeiling - SEQUENCE_BLOCK / 2) pending.wantedCeiling = sequenceNumber + SEQUENCE_BLOCK;
    if (sequenceNumber <= pending.ceiling) return null;
    void this.flush();
    return new Promise((resolve) => pending.waiters.push({ upTo: sequenceNumber, resolve }));
  }

  /** The text from now on goes in the final write: drop what is pending; the heartbeat goes on. */
  seal(messageId: string): void {
    const pending = this.#active.get(messageId);
    if (pending) pending.text = '';
  }

  /** The message is finished (or given up): nothing more is written for it. */
  untrack(messageId: string): void {
    const pending = this.#active.get(messageId);
    this.#active.delete(messageId);
    for (const waiter of pending?.waiters ?? []) waiter.resolve(); // a runner stopped while it waited
    if (this.#active.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /** Writes what is pending; one write at a time (text gathers for the next while one is out). */
  flush(): Promise<void> {
    if (this.#writing) return this.#writing;
    const now = Date.now();
    const batch: { id: string; text: string; ceiling: number }[] = [];
    for (const [id, pending] of this.#active) {
      const raise = pending.wantedCeiling > pending.ceiling;
      if (!pending.text && !raise && now - pending.lastWrite < HEARTBEAT_INTERVAL_MS) continue;
      batch.push({ id, text: pending.text, ceiling: pending.wantedCeiling });
      pending.text = '';
      pending.lastWrite = now;
    }
    if (batch.length === 0) return Promise.resolve();
    this.#writing = this.#prisma.$executeRaw`
        UPDATE "Message" AS m
        SET "content" = m."content" || v.text, "sequenceNumber" = GREATEST(m."sequenceNumber", v.ceiling), "heartbeatAt" = now()
        FROM unnest(${batch.map((b) => b.id)}::text[], ${batch.map((b) => b.text)}::text[], ${batch.map((b) => b.ceiling)}::int[]) AS v(id, text, ceiling)
        WHERE m."id" = v.id AND m."status" = 'STREAMING'`
      .then(() => {
        if (this.#failures) this.#log.info({ failures: this.#failures }, 'streamed text is being persisted again');
        this.#failures = 0;
        for (const b of batch) this.#confirm(b.id, b.ceiling);
      })
      .catch((err) => {
        // Keep the text for the next write, in front of what has come since.
        for (const b of batch) {
          const pending = this.#active.get(b.id);
          if (pending) pending.text = b.text + pending.text;
        }
        if (this.#failures++ === 0) this.#log.warn({ err, messages: batch.length }, 'could not persist streamed text; retrying');
      })
      .finally(() => (this.#writing = null));
    return this.#writing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#writing;
  }

  #confirm(messageId: string, ceiling: number): void {
    const pending = this.#active.get(messageId);
    if (!pending) return;
    pending.ceiling = Math.max(pending.ceiling, ceiling);
    pending.waiters = pending.waiters.filter((waiter) => (waiter.upTo <= pending.ceiling ? (waiter.resolve(), false) : true));
  }
}
