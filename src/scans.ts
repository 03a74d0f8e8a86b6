// Reads whose cost grows with what a viewer stored (a search, a row count, a page of a long branch filtered by
// role): charged to the viewer by the time they took, and, but for searches (one at a time, refused
// meanwhile: rate-limit.ts oneAtATime), run one after another per viewer. Twenty requests of ten counts each
// over a branch of 500,000 messages held every connection of the pool: another user's query of a few
// milliseconds waited 10–23 s. One viewer's scans now hold one connection.
import type { Viewer } from './auth.ts';
import { chargeTime, type RateLimiter } from './rate-limit.ts';

/** A request's worth of a scan's time: on the embedded database the server waits that long for it. */
const MS_PER_REQUEST = 5;

type ScanDeps = { rateLimiter: RateLimiter; viewer: Viewer };

/** Runs `read`, then charges the viewer a request per 5 ms it took (before the next scan may start). */
export async function chargedByTime<T>({ rateLimiter, viewer }: { rateLimiter: Pick<RateLimiter, 'charge'>; viewer: Viewer }, read: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await read();
  } finally {
    await chargeTime(rateLimiter, viewer, performance.now() - started, MS_PER_REQUEST);
  }
}

/**
 * Runs `read` after the viewer's earlier scans on this instance, as a request of theirs and charged by its
 * time: past the request limit, scans waiting their turn are refused (RATE_LIMITED) without running.
 * `charged: false` in a subscription's events, whose fields count toward the viewer's requests already
 * (connection-limits.ts): they still wait their turn.
 */
export function scan<T>(deps: ScanDeps, read: () => Promise<T>, { charged = true } = {}): Promise<T> {
  return deps.rateLimiter.inTurn(deps.viewer, 'scan', async () => {
    if (!charged) return read();
    await deps.rateLimiter.request(deps.viewer);
    return chargedByTime(deps, read);
  });
}
