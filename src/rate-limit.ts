// Per-viewer rate limits: requests per minute, generations started per minute (the expensive part), bytes
// sent per day (what a viewer can make the server store), and bytes their replies streamed per hour (what
// the event log keeps of them). The per-minute limits are paces with a bounded burst (paced-counter.ts), the
// others fixed windows; counted in process, or in Redis so that every instance shares the count.
import type { Redis } from 'ioredis';
import { KeyedQueue } from './keyed-queue.ts';
import type { Viewer } from './auth.ts';
import { isGraphQLError, rateLimited, rateLimitedError } from './errors.ts';
import { ownerKey, type OwnerIds } from './access.ts';
import type { Logger } from './logger.ts';
import { memoryPacedCounter, redisPacedCounter, type Pace, type PacedCounter } from './paced-counter.ts';

export type RateLimits = {
  requestsPerMinute: number;
  /** Requests a viewer may send at once, ahead of the minute's pace. */
  requestBurst: number;
  generationsPerMinute: number;
  bytesPerDay: number;
  streamedBytesPerHour: number;
};

/** What one request (an HTTP request, an operation over a WebSocket) has counted so far: it counts in parts. */
export type RequestUnits = { taken: number };

export type RateLimiter = {
  /**
   * Counts `count` requests of this viewer; throws RATE_LIMITED (HTTP 429), counting nothing, past the limit.
   * `units`: the request they are part of, judged with what it counted before (and added to it).
   */
  request(viewer: Viewer, count?: number, units?: RequestUnits): Promise<void>;
  /**
   * Counts `count` requests' worth of work this viewer caused and that ran already (even past the limit):
   * their next requests wait for it. Never throws for the limit; false when it put the viewer past it.
   */
  charge(viewer: Viewer, count: number): Promise<boolean>;
  /**
   * Counts one generation started by this viewer; throws RATE_LIMITED past the limit, or while their replies
   * have streamed the hour's bytes.
   */
  generation(viewer: Viewer): Promise<void>;
  /**
   * Counts `count` bytes the replies of this owner streamed into the event log, as a reply streams; true once
   * the hour's are spent (then the reply stops there). Never throws for the limit: a reply has no one to answer.
   */
  streamed(owner: OwnerIds, count: number): Promise<boolean>;
  /**
   * Counts `count` bytes a write of this viewer was sent with (a mutation, `chat`) or copied (a fork);
   * throws RATE_LIMITED past the day's limit. What one user may store grows no faster.
   */
  bytes(viewer: Viewer, count: number): Promise<void>;
  /**
   * Runs `work` unless this viewer's work of the same `kind` is running on this instance: then throws
   * RATE_LIMITED. For work that costs by what the viewer stored (a search): charged after it ran, it could
   * otherwise be asked many times at once before the first charge.
   */
  oneAtATime<T>(viewer: Viewer, kind: string, work: () => Promise<T>): Promise<T>;
  /**
   * Runs `work` once this viewer's earlier work of the same `kind` on this instance has ended: for reads a
   * request may ask for several of (row counts), which one viewer could otherwise run on every connection of
   * the database's pool at once.
   */
  inTurn<T>(viewer: Viewer, kind: string, work: () => Promise<T>): Promise<T>;
};

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Work whose cost grows with what a viewer stored (a search through every message) is charged after it ran,
 * by the time it took: a request per `msPerRequest`. Past the limit the viewer's next requests are refused;
 * this one keeps its answer.
 */
export async function chargeTime(limiter: Pick<RateLimiter, 'charge'>, viewer: Viewer, ms: number, msPerRequest: number): Promise<void> {
  const requests = Math.floor(ms / msPerRequest);
  if (requests > 0) await limiter.charge(viewer, requests);
}

/**
 * Bytes a write stored beyond what it was sent with (a new lane's path), known once it is committed: counted
 * then, toward the day's bytes. Past the limit the viewer's next writes are refused; this one keeps its answer.
 */
export async function chargeStored(limiter: Pick<RateLimiter, 'bytes'>, viewer: Viewer, bytes: number): Promise<void> {
  if (bytes === 0) return;
  await limiter.bytes(viewer, bytes).catch((error) => {
    if (!isGraphQLError(error)) throw error;
  });
}

type Counter = (key: string, by: number) => Promise<{ count: number; resetInMs: number }>;

const retryAfterOf = ({ resetInMs }: { resetInMs: number }) => Math.max(1, Math.ceil(resetInMs / 1000));

/**
 * With Redis the count is shared by every instance. While Redis is away each instance counts on its own
 * (neither open nor closed: a viewer gets at most the limit from each instance), and the shared count
 * resumes when Redis answers again.
 */
export function createRateLimiter(limits: RateLimits, { redis, log }: { redis?: Redis; log: Logger }): RateLimiter {
  const counter = (windowMs: number) => (redis ? withLocalFallback(redisCounter(redis, windowMs), memoryCounter(windowMs), log) : memoryCounter(windowMs));
  const pacedCounter = (pace: Pace) =>
    redis ? withLocalFallback(redisPacedCounter(redis, pace), memoryPacedCounter(pace), log) : memoryPacedCounter(pace);
  const requests = paceOf(limits.requestsPerMinute, limits.requestBurst, pacedCounter);
  const generations = paceOf(limits.generationsPerMinute, limits.generationsPerMinute, pacedCounter);
  const perHour = counter(HOUR_MS);
  const perDay = counter(DAY_MS);
  /** Counts `by`; throws RATE_LIMITED when that passes the limit. */
  const check = async (count: Counter, kind: string, owner: OwnerIds, limit: number, by: number) => {
    if (limit <= 0) return; // 0: no limit
    const counted = await count(`${kind}:${ownerKey(owner)}`, by);
    if (counted.count > limit) throw rateLimited(retryAfterOf(counted));
  };
  /** Counts nothing; throws RATE_LIMITED (with `message`) when the window's limit is reached already. */
  const refuseIfSpent = async (count: Counter, kind: string, owner: OwnerIds, limit: number, message: string) => {
    if (limit <= 0) return;
    const counted = await count(`${kind}:${ownerKey(owner)}`, 0);
    if (counted.count >= limit) throw rateLimited(retryAfterOf(counted), message);
  };
  /** Takes `by` of the viewer's pace of `kind`; throws RATE_LIMITED, taking nothing, when it has not come. */
  const take = async (pace: PacedCounter | undefined, kind: string, owner: OwnerIds, by: number, perMinute: number, units?: RequestUnits) => {
    if (!pace) return;
    const total = (units?.taken ?? 0) + by; // a request that counts in parts, in all
    if (total > perMinute) throw rateLimitedError(`This counts as ${total} requests, more than the ${perMinute} a minute allows: it can never pass`);
    const taken = await pace(`${kind}:${ownerKey(owner)}`, countable(by), false, units?.taken ?? 0);
    if (!taken.allowed) throw rateLimited(retryAfterOf({ resetInMs: taken.retryInMs }));
    if (units) units.taken += by;
  };
  const streamedMessage = `This user's replies have streamed the ${limits.streamedBytesPerHour} bytes an hour allows (RATE_LIMIT_STREAMED_MB_PER_HOUR)`;
  const running = new Set<string>();
  const queued = new KeyedQueue();
  return {
    request: (viewer, by = 1, units) => take(requests, 'requests', viewer, by, limits.requestsPerMinute, units),
    charge: async (viewer, by) => (await requests?.(`requests:${ownerKey(viewer)}`, countable(by), true))?.allowed ?? true,
    generation: async (viewer) => {
      await refuseIfSpent(perHour, 'streamed', viewer, limits.streamedBytesPerHour, streamedMessage);
      await take(generations, 'generations', viewer, 1, limits.generationsPerMinute);
    },
    streamed: (owner, by) =>
      check(perHour, 'streamed', owner, limits.streamedBytesPerHour, by).then(
        () => false,
        (error: unknown) => {
          if (isGraphQLError(error)) return true;
          throw error;
        },
      ),
    bytes: async (viewer, by) => {
      if (by > 0) await check(perDay, 'bytes', viewer, limits.bytesPerDay, by);
    },
    async oneAtATime(viewer, kind, work) {
      const key = `${kind}:${ownerKey(viewer)}`;
      if (running.has(key)) throw rateLimitedError(`One ${kind} at a time: this user's last has not ended`);
      running.add(key);
      try {
        return await work();
      } finally {
        running.delete(key);
      }
    },
    inTurn: (viewer, kind, work) => queued.run(`${kind}:${ownerKey(viewer)}`, work),
  };
}

/** A count a counter can take: a NaN would hold its key's count for good (and fail Redis's script). */
function countable(count: number): number {
  if (!(Number.isFinite(count) && count >= 0)) throw new RangeError(`not a count of requests: ${count}`);
  return count;
}

/** A pace of `perMinute` with a burst of at most that; none for a limit of 0. */
function paceOf(perMinute: number, burst: number, counter: (pace: Pace) => PacedCounter): PacedCounter | undefined {
  return perMinute > 0 ? counter({ perMinute, burst: Math.max(1, Math.min(burst, perMinute)) }) : undefined;
}

/**
 * Counts in Redis while it answers, here while it does not. After a failure, requests count here for a
 * second before one tries Redis again: a Redis that does not answer at all (each try waits for the
 * command timeout) then delays one request a second rather than every one.
 */
function withLocalFallback<Args extends unknown[], Counted>(
  shared: (...args: Args) => Promise<Counted>,
  local: (...args: Args) => Promise<Counted>,
  log: Logger,
): (...args: Args) => Promise<Counted> {
  let sharedDown = false;
  let retryAt = 0;
  return async (...args) => {
    if (sharedDown && Date.now() < retryAt) return local(...args);
    retryAt = Date.now() + RETRY_SHARED_MS; // while this one tries, the others count here
    try {
      const counted = await shared(...args);
      if (sharedDown) log.info('rate limits are counted in redis again');
      sharedDown = false;
      return counted;
    } catch (err) {
      if (!sharedDown) log.warn({ err }, 'redis is away: rate limits are counted by each instance until it is back');
      sharedDown = true;
      retryAt = Date.now() + RETRY_SHARED_MS;
      return local(...args);
    }
  };
}

const RETRY_SHARED_MS = 1000;

function memoryCounter(windowMs: number): Counter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, window] of windows) if (window.resetAt <= now) windows.delete(key);
  }, Math.min(windowMs, MINUTE_MS));
  sweep.unref();
  return async (key, by) => {
    const now = Date.now();
    let window = windows.get(key);
    if (!window || window.resetAt <= now) windows.set(key, (window = { count: 0, resetAt: now + windowMs }));
    window.count += by;
    return { count: window.count, resetInMs: window.resetAt - now };
  };
}

function redisCounter(redis: Redis, windowMs: number): Counter {
  return async (key, by) => {
    const window = Math.floor(Date.now() / windowMs);
    const redisKey = `chat:rate:${key}:${window}`;
    const [[, count]] = (await redis.multi().incrby(redisKey, by).pexpire(redisKey, windowMs).exec()) as [[null, number]];
    return { count, resetInMs: (window + 1) * windowMs - Date.now() };
  };
}
