// A subscription holding part of a per-viewer limit (an open connection, a share of fields per event) for as
// long as it lives. It is taken in envelop's onSubscribe, before the subscription's resolver runs (`chat`
// sends a message: a refused one must do nothing), and given back once, however the subscription ends:
// refused or failed at once, finished, closed by its client, or failed mid-stream. Its plugin must come after
// every plugin that replaces the subscribe function or may throw in onSubscribe (envelop then skips the
// result hooks of the plugins before it): src/yoga.ts puts the holds last.
import { isAsyncIterable, type OnSubscribeEventPayload, type OnSubscribeHookResult } from '@envelop/core';
import type { Viewer } from './auth.ts';
import { WatchedStream } from './watched-stream.ts';

/** A per-viewer limit (connection-limits.ts): long-lived, so that a subscription keeps no closures of its own for it. */
type Shares = {
  hold(viewer: Viewer, amount: number): boolean;
  release(viewer: Viewer, amount: number): void;
  /** Told of each event the subscription resolved, with its amount (when `countsEvents`). */
  resolved?(viewer: Viewer, amount: number): void;
};

type Hold = {
  viewer: Viewer;
  amount: number;
  /** The error to refuse the subscription with when its viewer's share is spent. */
  refusal: () => Error;
  /** Whether each event is reported to `shares.resolved`. */
  countsEvents?: boolean;
  /** Called with the stream once it runs; what it returns is called when the stream ends. */
  onStream?: (stream: AsyncIterableIterator<unknown>) => () => void;
};

export function holdWhileSubscribed<Context>(payload: OnSubscribeEventPayload<Context>, shares: Shares, { viewer, amount, refusal, countsEvents = false, onStream }: Hold): OnSubscribeHookResult<Context> | void {
  if (!shares.hold(viewer, amount)) return payload.setResultAndStopExecution({ errors: [refusal() as never] });
  const held = new HeldShare(shares, viewer, amount, countsEvents);
  const { subscribeFn, setSubscribeFn } = payload;
  setSubscribeFn(async (args) => {
    try {
      return await subscribeFn(args);
    } catch (error) {
      held.end(); // thrown at once or rejected: no stream, nothing held
      throw error;
    }
  });
  return {
    onSubscribeResult: ({ result, setResult }) => {
      if (!isAsyncIterable(result)) return held.end(); // refused by the executor or the resolver
      const watched = new WatchedStream(result, held);
      held.streamEnded = onStream?.(result as AsyncIterableIterator<unknown>);
      setResult(watched);
    },
  };
}

/** What one subscription holds of a limit, given back once. */
class HeldShare {
  streamEnded: (() => void) | undefined;
  #held = true;

  constructor(
    private readonly shares: Shares,
    private readonly viewer: Viewer,
    private readonly amount: number,
    private readonly countsEvents: boolean,
  ) {}

  event(): void {
    if (this.countsEvents) this.shares.resolved?.(this.viewer, this.amount);
  }

  end(): void {
    this.streamEnded?.();
    this.streamEnded = undefined;
    if (this.#held) this.shares.release(this.viewer, this.amount);
    this.#held = false;
  }
}
