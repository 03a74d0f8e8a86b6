// A reply between the reader of a provider stream and the generation consuming it. The reader pushes
// parts as they come; the consumer takes whatever has queued as one batch, neighbouring pieces of the same
// thing merged (text with text, a reasoning block's pieces, a tool call's arguments), so a consumer that
// falls behind (a busy server) catches up in a few large steps instead of falling further behind.
import { mergeMetadata, type ReplyPart } from './reply.ts';

export class ReplyQueue implements AsyncIterableIterator<ReplyPart[]> {
  readonly #queue: ReplyPart[] = [];
  #ended = false;
  #failure: { error: unknown } | null = null;
  #wake: (() => void) | null = null;
  readonly #stop: () => void;

  /** `stop` ends the reading: called when the reply fails or its consumer leaves before the end. */
  constructor(stop: () => void) {
    this.#stop = stop;
  }

  push(part: ReplyPart): void {
    this.#queue.push(part);
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

  async next(): Promise<IteratorResult<ReplyPart[]>> {
    for (;;) {
      if (this.#queue.length > 0) return { done: false, value: merge(this.#queue.splice(0)) };
      if (this.#failure) throw this.#failure.error;
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<ReplyPart[]>> {
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

/** The parts in order, each run of pieces of one thing joined into one part. */
function merge(parts: ReplyPart[]): ReplyPart[] {
  const merged: ReplyPart[] = [];
  for (const part of parts) {
    const last = merged.at(-1);
    if (last?.kind === 'text' && part.kind === 'text') merged[merged.length - 1] = { kind: 'text', text: last.text + part.text };
    else if (last?.kind === 'reasoning' && part.kind === 'reasoning' && last.block === part.block) {
      merged[merged.length - 1] = { ...last, text: last.text + part.text, metadata: mergeMetadata(last.metadata, part.metadata) };
    } else if (last?.kind === 'toolInput' && part.kind === 'toolInput' && last.id === part.id) merged[merged.length - 1] = { ...last, delta: last.delta + part.delta };
    else merged.push(part);
  }
  return merged;
}
