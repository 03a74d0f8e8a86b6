// A subscription's stream reports its events, and its end exactly once however it ends: the per-viewer
// shares a subscription holds and its log line depend on it (src/subscription-hold.ts, observability); over SSE,
// a request aborted ends it (src/client-gone.ts).
import { describe, expect, it } from 'vitest';
import { WatchedStream } from '../src/watched-stream.ts';
import { useEndWhenClientGone } from '../src/client-gone.ts';

/** A stream of 1, 2, then (as asked) an end or an error; records what was asked of it. */
function source(then: 'ends' | 'fails') {
  const asked: string[] = [];
  async function* numbers() {
    try {
      yield 1;
      yield 2;
      if (then === 'fails') throw new Error('the source went away');
    } finally {
      asked.push('closed');
    }
  }
  return { stream: numbers(), asked };
}

function watched(then: 'ends' | 'fails') {
  const { stream, asked } = source(then);
  const seen: number[] = [];
  let ends = 0;
  const watchedStream = new WatchedStream<number>(stream, { event: (value) => seen.push(value), end: () => ends++ });
  return { watchedStream, asked, seen, ends: () => ends };
}

describe('a watched stream', () => {
  it('passes every event on and ends once when its source finishes', async () => {
    const { watchedStream, seen, ends } = watched('ends');
    const got: number[] = [];
    for await (const value of watchedStream) got.push(value);
    expect(got).toEqual([1, 2]);
    expect(seen).toEqual([1, 2]);
    expect(ends()).toBe(1);
    await watchedStream.return();
    expect(ends()).toBe(1);
  });

  it('ends once when its source fails, and the failure is still the reader’s', async () => {
    const { watchedStream, ends } = watched('fails');
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const value of watchedStream) got.push(value);
      })(),
    ).rejects.toThrow('the source went away');
    expect(got).toEqual([1, 2]);
    expect(ends()).toBe(1);
  });

  it('ends once, and closes its source, when its reader stops early (return) or throws into it', async () => {
    for (const stop of ['return', 'throw'] as const) {
      const { watchedStream, asked, ends } = watched('ends');
      expect(await watchedStream.next()).toEqual({ value: 1, done: false });
      if (stop === 'return') expect(await watchedStream.return()).toEqual({ value: undefined, done: true });
      else await expect(watchedStream.throw(new Error('stop'))).rejects.toThrow('stop');
      expect(asked).toEqual(['closed']);
      expect(ends()).toBe(1);
      await watchedStream.return();
      expect(ends()).toBe(1);
    }
  });

  it('ends even when its source has no return', async () => {
    let ends = 0;
    const bare: AsyncIterable<number> = { [Symbol.asyncIterator]: () => ({ next: async () => ({ value: 1, done: false }) }) };
    const watchedStream = new WatchedStream(bare, { end: () => ends++ });
    expect(await watchedStream.return()).toEqual({ value: undefined, done: true });
    expect(ends).toBe(1);
  });

  it('goes on when its source catches what is thrown into it, and ends when the source does', async () => {
    let ends = 0;
    async function* forgiving() {
      for (let i = 0; i < 3; i++) {
        try {
          yield i;
        } catch {
          // carries on
        }
      }
    }
    const watchedStream = new WatchedStream(forgiving(), { end: () => ends++ });
    await watchedStream.next();
    expect(await watchedStream.throw(new Error('ignored'))).toEqual({ value: 1, done: false });
    expect(ends).toBe(0);
    expect(await watchedStream.next()).toEqual({ value: 2, done: false });
    expect(await watchedStream.next()).toEqual({ value: undefined, done: true });
    expect(ends).toBe(1);
  });
});

describe('a stream ended when its client is gone (SSE)', () => {
  /** The plugin's hooks run on a subscription of a request whose signal is `signal`; the stream it sets. */
  function endedWithRequest(signal: AbortSignal, stream: AsyncIterableIterator<number>) {
    let result: unknown = stream;
    const hooks = useEndWhenClientGone().onSubscribe!({ args: { contextValue: { request: { signal } } } } as never) as { onSubscribeResult(payload: unknown): void };
    hooks.onSubscribeResult({ result: stream, setResult: (next: unknown) => (result = next) });
    return result as AsyncIterableIterator<number>;
  }
  /** A stream whose `return` fails, as a source may; it never yields, or ends at once. */
  const failingToEnd = (next: () => Promise<IteratorResult<number>> = () => new Promise(() => {})) => {
    const asked: string[] = [];
    const stream: AsyncIterableIterator<number> = {
      [Symbol.asyncIterator]: () => stream,
      next,
      return: () => (asked.push('return'), Promise.reject(new Error('could not end'))),
    };
    return { stream, asked };
  };

  it('ends it when the request is aborted, then or later, and a source that fails to end is taken as ended', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const later = new AbortController();
      const { stream, asked } = failingToEnd();
      endedWithRequest(later.signal, stream);
      expect(asked).toEqual([]);
      later.abort();
      const already = failingToEnd();
      endedWithRequest(AbortSignal.abort(), already.stream);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(asked).toEqual(['return']);
      expect(already.asked).toEqual(['return']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('stops listening once the stream ends otherwise', async () => {
    const controller = new AbortController();
    const { stream, asked } = failingToEnd(() => Promise.resolve({ done: true, value: undefined }));
    const ended = endedWithRequest(controller.signal, stream);
    await ended.next();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(asked).toEqual([]); // not asked to end again
  });
});
