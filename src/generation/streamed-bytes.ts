// What a reply streams into the event log, counted toward its owner's RATE_LIMIT_STREAMED_MB_PER_HOUR: the
// event log keeps each event (in Redis, or in memory) for STREAM_RETENTION_SECONDS after the reply ends, and
// events of a few characters each take some 30 times their text there. Counted a share at a time as the
// reply streams (one count for hundreds of events), and the rest as it ends.
import type { Logger } from '../logger.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { loggedBytes, type StreamEvent } from '../streams/events.ts';

/** Bytes of events counted at once. */
const COUNT_EVERY_BYTES = 64 * 1024;

type Owner = Parameters<RateLimiter['streamed']>[0];

export class StreamedBytes {
  #uncounted = 0;

  constructor(
    private readonly limiter: Pick<RateLimiter, 'streamed'>,
    private readonly owner: Owner,
    private readonly log: Logger,
  ) {}

  /** An event logged; true when a share is due to be counted (`count`). */
  add(event: StreamEvent): boolean {
    this.#uncounted += loggedBytes(event);
    return this.#uncounted >= COUNT_EVERY_BYTES;
  }

  /** Counts what is not yet; true once the owner's hour is spent (a streaming reply stops there). */
  async count(): Promise<boolean> {
    const bytes = this.#uncounted;
    if (bytes === 0) return false;
    this.#uncounted = 0;
    return this.limiter.streamed(this.owner, bytes).catch((err: unknown) => {
      this.log.warn({ err }, 'could not count the bytes a reply streamed');
      return false;
    });
  }
}
