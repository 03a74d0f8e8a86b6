// Limits of a rate (so many a minute) counted as a pace rather than in windows: each unit spent pushes the
// viewer's "theoretical arrival time" on by the interval between units (the generic cell rate algorithm),
// and a viewer may run ahead of the clock by at most `burst` units. A fixed window let a viewer spend a
// whole minute's requests in its first second, once a minute (and two minutes' worth across a window's
// edge): 90 subscriptions of heavy events did that, and held the event loop for half a second each time.
// Spent at the pace, the same requests come every 3 ms, and any burst is bounded.
import type { Redis } from 'ioredis';

export type Pace = { perMinute: number; burst: number };

/** `allowed`, or refused until `retryInMs`. A refused take spends nothing. */
export type Taken = { allowed: boolean; retryInMs: number };

/**
 * Takes `count` units of `key`'s pace. `force`: take them even past the limit (a charge for work already
 * done), so that the viewer's next takes wait for them.
 */
export type PacedCounter = (key: string, count: number, force: boolean) => Promise<Taken>;

const MINUTE_MS = 60_000;

/**
 * When `count` units taken at `now` from a pace whose next arrival is `arrival` (a past arrival counts
 * as now) would run ahead of the clock: the new arrival, and by how much it runs ahead of what the burst
 * allows (positive: refused). A take larger than the burst passes once the viewer has caught up with the
 * clock (one larger than a minute's never does).
 */
function paced(pace: Pace, arrival: number, now: number, count: number): { next: number; aheadMs: number } {
  const interval = MINUTE_MS / pace.perMinute;
  const next = Math.max(arrival, now) + count * interval;
  return { next, aheadMs: next - now - Math.max(pace.burst, Math.min(count, pace.perMinute)) * interval };
}

export function memoryPacedCounter(pace: Pace): PacedCounter {
  const arrivals = new Map<string, number>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, arrival] of arrivals) if (arrival <= now) arrivals.delete(key);
  }, MINUTE_MS);
  sweep.unref();
  return async (key, count, force) => {
    const now = Date.now();
    const { next, aheadMs } = paced(pace, arrivals.get(key) ?? now, now, count);
    if (aheadMs > 0 && !force) return { allowed: false, retryInMs: aheadMs };
    arrivals.set(key, next);
    return { allowed: aheadMs <= 0, retryInMs: Math.max(0, aheadMs) };
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
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local arrival = tonumber(redis.call('GET', KEYS[1]) or '0')
if arrival < now then arrival = now end
local nextArrival = arrival + count * interval
local ahead = nextArrival - now - math.max(burst, math.min(count, tonumber(ARGV[5]))) * interval
if ahead > 0 and ARGV[4] ~= '1' then return {0, math.ceil(ahead)} end
redis.call('SET', KEYS[1], string.format('%.3f', nextArrival), 'PX', math.ceil(nextArrival - now) + 1)
if ahead > 0 then return {0, math.ceil(ahead)} end
return {1, 0}
`;

type TakeCommand = (key: string, interval: string, burst: number, count: number, force: '1' | '0', perMinute: number) => Promise<[number, number]>;

export function redisPacedCounter(redis: Redis, pace: Pace): PacedCounter {
  redis.defineCommand('chatPaceTake', { numberOfKeys: 1, lua: TAKE }); // sent once, then run by its digest
  const take = (redis as unknown as { chatPaceTake: TakeCommand }).chatPaceTake.bind(redis);
  const interval = String(MINUTE_MS / pace.perMinute);
  return async (key, count, force) => {
    const [allowed, retryInMs] = await take(`chat:pace:${key}`, interval, pace.burst, count, force ? '1' : '0', pace.perMinute);
    return { allowed: allowed === 1, retryInMs };
  };
}
