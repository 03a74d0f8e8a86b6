// Persists the text of every running generation as it streams: one UPDATE per interval for all of them
// (content || new text), plus a heartbeat for those whose provider is quiet. A crash loses at most one
// interval of text, and a thousand streams cost four statements a second, not four thousand.
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../logger.ts';

/** How often streamed text is written; the most a crash can lose. */
export const FLUSH_INTERVAL_MS = 250;
/** How often a running generation says it is alive, even while its provider is silent. */
export const HEARTBEAT_INTERVAL_MS = 5_000;

type Pending = { text: string; sequenceNumber: number; lastWrite: number };

export class StreamPersister {
  readonly #prisma: PrismaClient;
  readonly #log: Logger;
  readonly #active = new Map<string, Pending>();
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> | null = null;

  constructor(prisma: PrismaClient, log: Logger) {
    this.#prisma = prisma;
    this.#log = log;
  }

  track(messageId: string): void {
    this.#active.set(messageId, { text: '', sequenceNumber: 0, lastWrite: Date.now() });
    this.#timer ??= setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  add(messageId: string, text: string, sequenceNumber: number): void {
    const pending = this.#active.get(messageId);
    if (!pending) return;
    pending.text += text;
    pending.sequenceNumber = sequenceNumber;
  }

  /** The generation is finishing: its final write replaces whatever is pending. */
  untrack(messageId: string): void {
    this.#active.delete(messageId);
    if (this.#active.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /** Writes what is pending; one write at a time (text gathers for the next while one is out). */
  flush(): Promise<void> {
    if (this.#writing) return this.#writing;
    const now = Date.now();
    const batch: { id: string; text: string; sequenceNumber: number }[] = [];
    for (const [id, pending] of this.#active) {
      if (!pending.text && now - pending.lastWrite < HEARTBEAT_INTERVAL_MS) continue;
      batch.push({ id, text: pending.text, sequenceNumber: pending.sequenceNumber });
      pending.text = '';
      pending.lastWrite = now;
    }
    if (batch.length === 0) return Promise.resolve();
    this.#writing = this.#prisma.$executeRaw`
        UPDATE "Message" AS m
        SET "content" = m."content" || v.text, "sequenceNumber" = GREATEST(m."sequenceNumber", v.seq), "heartbeatAt" = now()
        FROM unnest(${batch.map((b) => b.id)}::text[], ${batch.map((b) => b.text)}::text[], ${batch.map((b) => b.sequenceNumber)}::int[]) AS v(id, text, seq)
        WHERE m."id" = v.id AND m."status" = 'STREAMING'`
      .then(() => undefined)
      .catch((err) => {
        // Keep the text for the next write, in front of what has come since.
        for (const b of batch) {
          const pending = this.#active.get(b.id);
          if (pending) pending.text = b.text + pending.text;
        }
        this.#log.warn({ err, messages: batch.length }, 'could not persist streamed text');
      })
      .finally(() => (this.#writing = null));
    return this.#writing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#writing;
  }
}
