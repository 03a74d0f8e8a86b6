// What a reply streams into the event log, counted toward its owner's RATE_LIMIT_STREAMED_MB_PER_HOUR: the
// event log keeps each event (in Redis, or in memory) for STREAM_RETENTION_SECONDS after the reply ends, and
// events of a few characters each take some 30 times their text there. Counted a share at a time as the
// reply streams (one count for hundreds of events), and the rest as it ends; in the background, so that the
// stream never waits on Redis for it. With each share, the text it held is added to its owner's storage
// (the storage quota's figure, until it measures again).
import type { OwnerIds } from '../access.ts';
import type { Logger } from '../logger.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { StorageQuota } from '../storage-quota.ts';
import { EVENT_BYTES, loggedBytes, type StreamEvent } from '../streams/events.ts';

/** Bytes of events counted at once. */
const COUNT_EVERY_BYTES = 64 * 1024;

export class StreamedBytes {
  #uncounted = 0;
  /** Of those, the text (what the message will store). */
  #text = 0;
  #spent = false;
  /** The counts in flight, one after another. */
  #counting = Promise.resolve();

  constructor(
    private readonly limiter: Pick<RateLimiter, 'streamed'>,
    private readonly owner: OwnerIds,
    private readonly log: Logger,
    private readonly storage: Pick<StorageQuota, 'stored'>,
  ) {}

  /** True once a count found the owner's hour spent: a streaming reply stops there. */
  get spent(): boolean {
    return this.#spent;
  }

  /** An event logged. */
  add(event: StreamEvent): void {
    const logged = loggedBytes(event);
    this.#uncounted += logged;
    this.#text += logged - EVENT_BYTES;
    if (this.#uncounted >= COUNT_EVERY_BYTES) this.#count();
  }

  /** The reply has ended: what is not counted yet is. Settles once every count has. */
  end(): Promise<void> {
    if (this.#uncounted > 0) this.#count();
    return this.#counting;
  }

  #count(): void {
    const bytes = this.#uncounted;
    this.#uncounted = 0;
    this.storage.stored(this.owner, this.#text);
    this.#text = 0;
    this.#counting = this.#counting
      .then(() => this.limiter.streamed(this.owner, bytes))
      .then(
        (spent) => {
          if (spent) this.#spent = true;
        },
        (err: unknown) => this.log.warn({ err }, 'could not count the bytes a reply streamed'),
      );
  }
}
