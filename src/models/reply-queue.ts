// A reply between the reader of a provider stream and the generation consuming it. The reader pushes
// chunks as they come; the consumer takes whatever has queued as one chunk, so a consumer that falls
// behind (a busy server) catches up in a few large steps instead of falling further behind.
import type { ReplyChunk } from './reply.ts';

export class ReplyQueue implements AsyncIterableIterator<ReplyChunk> {
  readonly #queue: ReplyChunk[] = [];
  #ended = false;
  #failure: { error: unknown } | null = null;
  #wake: (() => void) | null = null;
  readonly #stop: () => void;

  /** `stop` ends the reading: called when the reply fails or its consumer leaves before the end. */
  constructor(stop: () => void) {
    this.#stop = stop;
  }

  push(chunk: ReplyChunk): void {
    this.#queue.push(chunk);
    this.#wakeConsumer();
  }

  end(): void {
    this.#ended = true;
    this.#wakeConsumer();
  }

  /** Fails the reply with the reason when `signal` aborts; false if it already has (the reply has failed). */
  failOnAbort(signal: AbortSignal): boolean {
    if (signal.aborted) {
      this.fail(signal.reason);
      return false;
    }
    signal.addEventListener('abort', () => this.fail(signal.reason), { once: true });
    return true;
  }

  /** Ends the reply with `error`, after the text already queued, and stops the reading. */
  fail(error: unknown): void {
    if (this.#failure || this.#ended) return;
    this.#failure = { error };
    this.#stop();
    this.#wakeConsumer();
  }

  async next(): Promise<IteratorResult<ReplyChunk>> {
    for (;;) {
      if (this.#queue.length > 0) return { done: false, value: merge(this.#queue.splice(0)) };
      if (this.#failure) throw this.#failure.error;
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<ReplyChunk>> {
    if (!this.#ended && !this.#failure) this.#stop();
    this.#ended = true;
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  #wakeConsumer() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

function merge(chunks: ReplyChunk[]): ReplyChunk {
  if (chunks.length === 1) return chunks[0];
  const merged: ReplyChunk = { text: '' };
  for (const chunk of chunks) {
    merged.text += chunk.text;
    if (chunk.usage) merged.usage = chunk.usage;
  }
  return merged;
}
