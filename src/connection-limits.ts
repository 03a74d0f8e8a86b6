// Long-lived connections of one viewer on this instance (WebSockets, and subscriptions over SSE, each an
// open HTTP response): capped per viewer, and none outlives the token it was opened with.
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from './auth.ts';
import { PerViewerShares } from './per-viewer-shares.ts';
import { rateLimitedError } from './errors.ts';
import { holdWhileSubscribed } from './subscription-hold.ts';
import { ownerKey } from './access.ts';
import type { RateLimiter } from './rate-limit.ts';

/** Fields resolved for the events of writes that count as one request of their viewer. */
export const FIELDS_PER_REQUEST = 1_000;

export class OpenConnections extends PerViewerShares {
  /** Counts one more for the viewer; false (and nothing counted) when it has its fill. */
  open(viewer: Viewer): boolean {
    return this.hold(viewer, 1);
  }

  close(viewer: Viewer): void {
    this.release(viewer, 1);
  }

  tooMany(): Error {
    return rateLimitedError(`Too many open connections for this user (at most ${this.perViewer})`);
  }
}

/**
 * What a viewer's open subscriptions on this instance may resolve for one event that reaches them all:
 * the sum of their operations' costs, each at least MIN_SUBSCRIPTION_COST (operation-cost.ts). Without it, 100 subscriptions of 25,000 fields
 * each on one socket made every append cost 10 s of the event loop.
 */
export class SubscriptionCosts extends PerViewerShares {
  /** Per viewer holding a share: fields resolved for events and not yet counted as a request. */
  readonly #uncounted = new Map<string, number>();

  constructor(
    perViewer: number,
    private readonly rateLimiter: Pick<RateLimiter, 'charge'>,
  ) {
    super(perViewer);
  }

  /**
   * Counts the fields a subscription resolved for an event of a write (a conversation's) toward its
   * viewer's requests, a request per FIELDS_PER_REQUEST: the share bounds what one event costs, this how
   * many a viewer's writes may cause. (82 subscriptions of 300 fields on a conversation appended to 16
   * times a second held the event loop up to 0.9 s; another user's requests waited 0.2–2 s.) Never
   * refuses the event: the viewer's next requests are.
   */
  resolved(viewer: Viewer, fields: number): void {
    const key = ownerKey(viewer);
    const uncounted = (this.#uncounted.get(key) ?? 0) + fields;
    const requests = Math.floor(uncounted / FIELDS_PER_REQUEST);
    this.#uncounted.set(key, uncounted - requests * FIELDS_PER_REQUEST);
    if (requests > 0) this.rateLimiter.charge(viewer, requests).catch(() => {}); // never refuses: the next requests wait for it
  }

  override release(viewer: Viewer, amount: number): number {
    const left = super.release(viewer, amount);
    if (left === 0) this.#uncounted.delete(ownerKey(viewer));
    return left;
  }

  /** `share`: what the subscription counts (its fields per event, at least MIN_SUBSCRIPTION_COST). */
  tooMuch(share: number): Error {
    return rateLimitedError(
      `This subscription counts as ${share} fields per event; with this user's open subscriptions that is more than the ${this.perViewer} allowed: close some, or ask for less`,
    );
  }
}

/** Runs `action` at `time` (epoch ms), however far away: timers hold at most about 24 days. */
export function runAt(time: number, action: () => void): NodeJS.Timeout {
  const wait = time - Date.now();
  return setTimeout(() => (Date.now() >= time ? action() : runAt(time, action)), Math.max(0, Math.min(wait, 2 ** 31 - 1)));
}

type SubscriptionContext = { viewer: Viewer; request?: Request };

/**
 * Subscriptions over SSE: counted as connections of their viewer (before their resolver runs, as a
 * WebSocket is counted before its first operation), and ended when its token expires.
 */
export function useSseLimits(connections: OpenConnections): Plugin {
  return {
    onSubscribe(payload) {
      const { viewer, request } = payload.args.contextValue as unknown as SubscriptionContext;
      if (!request) return; // over a WebSocket: the socket is the connection (websocket.ts)
      return holdWhileSubscribed(payload, connections, {
        viewer,
        amount: 1,
        refusal: () => connections.tooMany(),
        onStream(stream) {
          if (viewer.expiresAt === undefined) return () => {};
          const expiry = runAt(viewer.expiresAt, () => void stream.return?.());
          return () => clearTimeout(expiry);
        },
      });
    },
  };
}
