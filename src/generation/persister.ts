// Persists every running generation as it streams: one UPDATE per interval for all of them (content ||
// new text, reasoning || new reasoning, the tool calls complete so far), plus a heartbeat for those whose
// provider is quiet. A crash loses at most one
// interval of text, and a thousand streams cost four statements a second, not four thousand.
//
// It also keeps each message's sequence ceiling: while a message is STREAMING, its `sequenceNumber`
// column is a number no event delivered so far exceeds. The ceiling is reserved ahead, a block at a
// time, in the same UPDATE, and the runner delivers no event above what the database has confirmed. So
// after a crash that lost the event log, the message's terminal event can be numbered above anything a
// subscriber ever received.
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';
import type { ReplyEvent } from './assembled-reply.ts';
import { outsideAnyRequest } from '../observability/request-context.ts';

/** How often streamed text is written; the most a crash can lose. */
export const FLUSH_INTERVAL_MS = 250;
/** How often a running generation says it is alive, even while its provider is silent. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** Event numbers reserved at a time: a new message starts with this ceiling. */
export const SEQUENCE_BLOCK = 1_000;

type Pending = {
  text: string;
  reasoning: string;
  /** The complete tool calls, when they changed since the last write. */
  toolCalls: unknown[] | null;
  lastWrite: number;
  /** The ceiling the database has; and the one asked for, written with the next flush. */
  ceiling: number;
  wantedCeiling: number;
  /** Runners waiting for the ceiling to reach a number. */
  waiters: { upTo: number; resolve: () => void }[];
  /** Its runner is writing the final state: a write that finds the row finished no longer means another did. */
  finishing: boolean;
};

export class StreamPersister {
  readonly #prisma: PrismaClient;
  readonly #log: Logger;
  readonly #takenOver: (messageId: string) => void;
  readonly #active = new Map<string, Pending>();
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> | null = null;
  #failures = 0;

  /**
   * `takenOver`: told of a message a write found no longer STREAMING (finished by another: recovery by an
   * instance that took this one for dead while it could not reach the database, a forced cancel, a purge);
   * it is no longer tracked, and nothing of it is confirmed.
   */
  constructor(prisma: PrismaClient, log: Logger, takenOver: (messageId: string) => void) {
    this.#prisma = prisma;
    this.#log = log;
    this.#takenOver = takenOver;
  }

  /** `ceiling`: the sequence ceiling the message was stored with. */
  track(messageId: string, ceiling: number): void {
    this.#active.set(messageId, { text: '', reasoning: '', toolCalls: null, lastWrite: Date.now(), ceiling, wantedCeiling: ceiling, waiters: [], finishing: false });
    // One timer writes every generation's text: it belongs to none of the requests that started them.
    this.#timer ??= outsideAnyRequest(() => setInterval(() => void this.flush(), FLUSH_INTERVAL_MS));
  }

  /** What one streamed event adds to the message; `toolCalls`: the complete calls so far. */
  add(messageId: string, event: ReplyEvent, toolCalls: readonly unknown[]): void {
    const pending = this.#active.get(messageId);
    if (!pending) return;
    if (event.type === 'delta') pending.text += event.delta;
    else if (event.type === 'reasoning') pending.reasoning += event.delta;
    else if (event.type === 'toolCall') pending.toolCalls = [...toolCalls];
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

  /** Its runner writes the final state now: what is pending is still written until then (untrack). */
  finishing(messageId: string): void {
    const pending = this.#active.get(messageId);
    if (pending) pending.finishing = true;
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
    const batch: { id: string; text: string; reasoning: string; toolCalls: unknown[] | null; ceiling: number }[] = [];
    for (const [id, pending] of this.#active) {
      const raise = pending.wantedCeiling > pending.ceiling;
      const news = pending.text || pending.reasoning || pending.toolCalls;
      if (!news && !raise && now - pending.lastWrite < HEARTBEAT_INTERVAL_MS) continue;
      batch.push({ id, text: pending.text, reasoning: pending.reasoning, toolCalls: pending.toolCalls, ceiling: pending.wantedCeiling });
      Object.assign(pending, { text: '', reasoning: '', toolCalls: null, lastWrite: now });
    }
    if (batch.length === 0) return Promise.resolve();
    const toolCalls = batch.map((b) => (b.toolCalls ? JSON.stringify(b.toolCalls) : null));
    this.#writing = this.#prisma.$queryRaw<{ id: string }[]>`
        UPDATE "Message" AS m
        SET "content" = m."content" || v.text,
            "reasoning" = CASE WHEN v.reasoning = '' THEN m."reasoning" ELSE COALESCE(m."reasoning", '') || v.reasoning END,
            "toolCalls" = COALESCE(v.calls::jsonb, m."toolCalls"),
            "sequenceNumber" = GREATEST(m."sequenceNumber", v.ceiling), "heartbeatAt" = now() AT TIME ZONE 'UTC'
        FROM unnest(${batch.map((b) => b.id)}::text[], ${batch.map((b) => b.text)}::text[], ${batch.map((b) => b.reasoning)}::text[],
                    ${toolCalls}::text[], ${batch.map((b) => b.ceiling)}::int[]) AS v(id, text, reasoning, calls, ceiling)
        WHERE m."id" = v.id AND m."status" = 'STREAMING'
        RETURNING m."id"`
      .then((rows) => {
        if (this.#failures) this.#log.info({ failures: this.#failures }, 'streamed text is being persisted again');
        this.#failures = 0;
        // A ceiling is confirmed only by a row that took it: past it, another finisher may number its end.
        const written = new Set(rows.map((row) => row.id));
        for (const b of batch) {
          if (written.has(b.id)) this.#confirm(b.id, b.ceiling);
          else if (this.#active.get(b.id)?.finishing === false) {
            this.untrack(b.id);
            this.#takenOver(b.id);
          }
        }
      })
      .catch((err) => {
        // Keep what was not written for the next write, in front of what has come since.
        for (const b of batch) {
          const pending = this.#active.get(b.id);
          if (!pending) continue;
          pending.text = b.text + pending.text;
          pending.reasoning = b.reasoning + pending.reasoning;
          pending.toolCalls ??= b.toolCalls;
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
