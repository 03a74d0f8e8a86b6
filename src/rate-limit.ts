// Per-viewer rate limits: requests per minute, and generations started per minute (the expensive part).
// Fixed one-minute windows, counted in process, or in Redis so that every instance shares the count.
import type { Redis } from 'ioredis';
import type { Viewer } from './auth.ts';
import { rateLimited } from './errors.ts';
import { ownerKey } from './access.ts';
import type { Logger } from './logger.ts';

export type RateLimits = { requestsPerMinute: number; generationsPerMinute: number };

export type RateLimiter = {
  /** Counts one request of this viewer; throws RATE_LIMITED (HTTP 429) past the limit. */
  request(viewer: Viewer): Promise<void>;
  /** Counts one generation started by this viewer; throws RATE_LIMITED past the limit. */
  generation(viewer: Viewer): Promise<void>;
};

const WINDOW_MS = 60_000;

type Counter = (key: string) => Promise<{ count: number; resetInMs: number }>;

export function createRateLimiter(limits: RateLimits, { redis, log }: { redis?: Redis; log: Logger }): RateLimiter {
  const count = redis ? redisCounter(redis) : memoryCounter();
  const check = async (kind: string, viewer: Viewer, limit: number) => {
    if (limit <= 0) return; // 0: no limit
    let counted;
    try {
      counted = await count(`${kind}:${ownerKey(viewer)}`);
    } catch (err) {
      // The store (Redis) is away: let requests through rather than fail them all.
      log.warn({ err }, 'rate limit not counted');
      return;
    }
    if (counted.count > limit) throw rateLimited(Math.max(1, Math.ceil(counted.resetInMs / 1000)));
  };
  return {
    request: (viewer) => check('requests', viewer, limits.requestsPerMinute),
    generation: (viewer) => check('generations', viewer, limits.generationsPerMinute),
  };
}

function memoryCounter(): Counter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, window] of windows) if (window.resetAt <= now) windows.delete(key);
  }, WINDOW_MS);
  sweep.unref();
  return async (key) => {
    const now = Date.now();
    let window = windows.get(key);
    if (!window || window.resetAt <= now) windows.set(key, (window = { count: 0, resetAt: now + WINDOW_MS }));
    window.count += 1;
    return { count: window.count, resetInMs: window.resetAt - now };
  };
}

function redisCounter(redis: Redis): Counter {
  return async (key) => {
    const window = Math.floor(Date.now() / WINDOW_MS);
    const redisKey = `chat:rate:${key}:${window}`;
    const [[, count]] = (await redis.multi().incr(redisKey).pexpire(redisKey, WINDOW_MS).exec()) as [[null, number]];
    return { count, resetInMs: (window + 1) * WINDOW_MS - Date.now() };
  };
}
