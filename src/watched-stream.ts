// A subscription's event stream that reports each event and its end, however it ends: finished, closed
// by its client (`return`), thrown into, or failed. Envelop's hooks for the same (`onNext`, `onEnd`,
// `onSubscribeError`) each wrap the stream in an object of closures, with methods named at run time, and an
// idle subscription holds them for life: this is one small object, its methods on the prototype
// (bench/RESULTS.md, idle subscriptions).

export type StreamWatcher<T> = {
  /** Each event, as it passes. */
  event?(value: T): void;
  /** Once, when the stream ends. */
  end(): void;
};

export class WatchedStream<T> implements AsyncIterableIterator<T> {
  readonly #source: AsyncIterator<T>;
  #watcher: StreamWatcher<T> | null;

  constructor(source: AsyncIterable<T>, watcher: StreamWatcher<T>) {
    this.#source = source[Symbol.asyncIterator]();
    this.#watcher = watcher;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    return this.#source.next().then(
      (result) => {
        if (result.done) this.#end();
        else this.#watcher?.event?.(result.value);
        return result;
      },
      (error: unknown) => {
        this.#end();
        throw error;
      },
    );
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    try {
      return this.#source.return?.(value) ?? Promise.resolve({ done: true, value: undefined });
    } finally {
      this.#end();
    }
  }

  /** A source may catch what is thrown into it and go on: it has ended when it says so, or fails. */
  throw(error?: unknown): Promise<IteratorResult<T>> {
    if (!this.#source.throw) {
      this.#end();
      return Promise.reject(error);
    }
    return this.#source.throw(error).then(
      (result) => {
        if (result.done) this.#end();
        return result;
      },
      (failure: unknown) => {
        this.#end();
        throw failure;
      },
    );
  }

  #end(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    watcher?.end();
  }
}
