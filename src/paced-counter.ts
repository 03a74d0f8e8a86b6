// Limits of a rate (so many a minute) counted as a pace rather than in windows: each unit taken puts the
// viewer an interval further ahead of the clock (the generic cell rate algorithm), the clock catches up as
// it runs, and a take is refused when it would put the viewer more than `burst` units ahead. A fixed window
// let a viewer spend a whole minute's requests in its first second, once a minute (and two minutes' worth
// across a window's edge): 1,200 pages at once held the server for 4 s. At the pace they come one each
// 50 ms, after a burst of at most 200.
import type { Redis } from 'ioredis';

export type Pace = { perMinute: number; burst: number };

/** `allowed`, or refused until `retryInMs`. A refused take spends nothing (a forced one spends all the same). */
export type Taken = { allowed: boolean; retryInMs: number };

/**
 * Takes `count` units of `key`'s pace, `already` of the same request's taken an instant before. `force`: take
 * them even past the limit (a charge for work already done), so that the viewer's next takes wait for them.
 */
export type PacedCounter = (key: string, count: number, force: boolean, already?: number) => Promise<Taken>;

const MINUTE_MS = 60_000;
/** Arrivals are times of the order of 10^12 ms: differences of them are exact to about a microsecond. */
const ROUNDING_MS = 0.01;

/**
 * `lag`: how far ahead of the clock the viewer is (0: caught up). A take of `count` is refused when it would
 * put them more than the burst ahead. A request may count in parts (its body as it came, then its mutation
 * fields, then what a fork copies): `already`, what the same request took an instant before, is judged with
 * this part as one take. One larger than the burst, in all, is let through as a single unit would be (else a
 * caught-up viewer's large request was refused for ever), all its units counted. Returns the new lag (at most a
 * minute past the burst: what a charge may cost is bounded, as a window bounded it) and by how much the take
 * runs ahead of what is allowed (positive: refused; then with the earlier parts, which a retry counts again).
 */
function paced(pace: Pace, lag: number, count: number, already: number): { nextLag: number; aheadMs: number } {
  const interval = MINUTE_MS / pace.perMinute;
  const aheadMs =
    already + count > pace.burst ? Math.max(0, lag - already * interval) + (1 - pace.burst) * interval : lag + (count - pace.burst) * interval;
  // Refused, the request is sent again whole: its earlier parts, counted already, will be counted again.
  return { nextLag: Math.min(lag + count * interval, MINUTE_MS + pace.burst * interval), aheadMs: aheadMs > ROUNDING_MS ? aheadMs + already * interval : 0 };
}

/** In process, on the monotonic clock: a wall clock set back would hold every viewer back as long. */
export function memoryPacedCounter(pace: Pace): PacedCounter {
  const arrivals = new Map<string, number>();
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [key, arrival] of arrivals) if (arrival <= now) arrivals.delete(key);
  }, MINUTE_MS);
  sweep.unref();
  return async (key, count, force, already = 0) => {
    const now = performance.now();
    const { nextLag, aheadMs } = paced(pace, Math.max(0, (arrivals.get(key) ?? now) - now), count, already);
    if (aheadMs > 0 && !force) return { allowed: false, retryInMs: aheadMs };
    arrivals.set(key, now + nextLag);
    return { allowed: aheadMs === 0, retryInMs: aheadMs };
  };
}

/**
 * The same in Redis, one script per take so that instances sharing a viewer cannot both take the last
 * units, on Redis's clock so that theirs need not agree. Same arithmetic as `paced`.
 */
const TAKE = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local force = ARGV[4] == '1'
local already = tonumber(ARGV[5])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local lag = math.max(0, tonumber(redis.call('GET', KEYS[1]) or '0') - now)
local ahead = lag + (count - burst) * interval
if already + count > burst then ahead = math.max(0, lag - already * interval) + (1 - burst) * interval end
if ahead <= ${ROUNDING_MS} then ahead = 0 else ahead = ahead + already * interval end
if ahead > 0 and not force then return {0, math.ceil(ahead)} end
local nextLag = math.min(lag + count * interval, ${MINUTE_MS} + burst * interval)
redis.call('SET', KEYS[1], string.format('%.3f', now + nextLag), 'PX', math.ceil(nextLag) + 1)
if ahead > 0 then return {0, math.ceil(ahead)} end
return {1, 0}
`;

type TakeCommand = (key: string, interval: string, burst: number, count: number, force: '1' | '0', already: number) => Promise<[number, number]>;

export function redisPacedCounter(redis: Redis, pace: Pace): PacedCounter {
  redis.defineCommand('chatPaceTake', { numberOfKeys: 1, lua: TAKE }); // sent once, then run by its digest
  const take = (redis as unknown as { chatPaceTake: TakeCommand }).chatPaceTake.bind(redis);
  const interval = String(MINUTE_MS / pace.perMinute);
  return async (key, count, force, already = 0) => {
    const [allowed, retryInMs] = await take(`chat:pace:${key}`, interval, pace.burst, count, force ? '1' : '0', already);
    return { allowed: allowed === 1, retryInMs };
  };
}
