import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { memoryPacedCounter, redisPacedCounter, type PacedCounter } from '../src/paced-counter.ts';
import { createRateLimiter } from '../src/rate-limit.ts';
import { startTestRedis, type TestRedis } from './redis-server.ts';
import { startTestApp, wsClient } from './helpers.ts';
import { loadConfig } from '../src/config.ts';

// 600 a minute: one every 100 ms; at most 3 at once.
const PACE = { perMinute: 600, burst: 3 };
const takes = async (counter: PacedCounter, key: string, n: number) => {
  const allowed = [];
  for (let i = 0; i < n; i++) allowed.push((await counter(key, 1, false)).allowed);
  return allowed;
};

/** The in-process pace runs on the monotonic clock: the tests move it. */
const fakeClock = () => vi.useFakeTimers({ toFake: ['performance', 'setInterval', 'clearInterval'] });

describe('a pace in process', () => {
  afterEach(() => vi.useRealTimers());

  it('allows the burst at once, then one a interval; a refused take spends nothing and says when to come back', async () => {
    fakeClock();
    const counter = memoryPacedCounter(PACE);
    expect(await takes(counter, 'a', 4)).toEqual([true, true, true, false]);
    expect(await counter('b', 1, false)).toEqual({ allowed: true, retryInMs: 0 }); // another key has its own
    const refused = await counter('a', 1, false);
    expect(refused).toMatchObject({ allowed: false });
    expect(refused.retryInMs).toBeCloseTo(100);
    // The refusals took nothing: 100 ms later exactly one more passes, 300 ms later three (the burst again).
    vi.advanceTimersByTime(100);
    expect(await takes(counter, 'a', 2)).toEqual([true, false]);
    vi.advanceTimersByTime(10_000);
    expect(await takes(counter, 'a', 4)).toEqual([true, true, true, false]);
  });

  it('takes a charge even past the limit: the next takes wait for it, a minute past the burst at most', async () => {
    fakeClock();
    const counter = memoryPacedCounter(PACE);
    await counter('a', 3, false); // the burst spent
    expect((await counter('a', 5, true)).allowed).toBe(false); // 5 more, taken all the same
    const refused = await counter('a', 1, false);
    expect(refused.retryInMs).toBeCloseTo(600); // the 5 and this one
    vi.advanceTimersByTime(599);
    expect((await counter('a', 1, false)).allowed).toBe(false);
    vi.advanceTimersByTime(1);
    expect((await counter('a', 1, false)).allowed).toBe(true);
    await counter('b', 1_000_000, true); // a charge of 100,000 s
    expect((await counter('b', 1, false)).retryInMs).toBeCloseTo(60_000 + 300 - 200);
  });

  it('lets a take larger than the burst through as one unit would be, all its units counted', async () => {
    fakeClock();
    const counter = memoryPacedCounter(PACE);
    await counter('a', 2, false); // a request or two before it (the mutation's own, a batch's)
    expect((await counter('a', 50, false)).allowed).toBe(true);
    expect((await counter('a', 1, false)).retryInMs).toBeCloseTo(5_000);
    expect((await counter('a', 50, false)).allowed).toBe(false);
    vi.advanceTimersByTime(5_000);
    expect((await counter('a', 50, false)).allowed).toBe(true);
  });

  it('judges a request that counts in parts as one take: its later part, with what it took before, as large as the burst or larger', async () => {
    fakeClock();
    const counter = memoryPacedCounter(PACE);
    await counter('a', 1, false); // the request's own, at admission
    expect((await counter('a', 3, false)).allowed).toBe(false); // alone, 1 + 3 is past the burst for good
    expect((await counter('a', 3, false, 1)).allowed).toBe(true); // as a part of that request: 4, passed as one would be
    expect((await counter('a', 1, false)).retryInMs).toBeCloseTo(200); // all 4 counted
    vi.advanceTimersByTime(10_000);
    await counter('b', 1, false);
    expect((await counter('b', 1, false, 1)).allowed).toBe(true); // parts within the burst: as before
    expect((await counter('b', 2, false, 2)).allowed).toBe(true); // 1 + 1 + 2 = 4 in all: passed as one would be
    expect((await counter('b', 1, false)).allowed).toBe(false); // and all 4 counted: another request waits
  });

  it("tells a request refused in a later part to wait for its earlier parts too: a retry counts them again", async () => {
    fakeClock();
    const counter = memoryPacedCounter(PACE);
    await counter('a', 1, false); // an earlier request
    const attempt = async () => (await counter('a', 1, false)).allowed && counter('a', 2, false, 1); // a request in two parts
    const refused = await attempt();
    expect(refused).toMatchObject({ allowed: false });
    expect((refused as { retryInMs: number }).retryInMs).toBeCloseTo(200); // 100 for this part, 100 for the first again
    vi.advanceTimersByTime(200);
    expect(await attempt()).toMatchObject({ allowed: true });
  });

  it('gives exactly the burst at paces whose interval is no whole number of milliseconds', async () => {
    for (const pace of [{ perMinute: 9, burst: 1 }, { perMinute: 700, burst: 200 }, { perMinute: 7, burst: 7 }]) {
      const counter = memoryPacedCounter(pace);
      const allowed = await takes(counter, 'a', pace.burst + 1);
      expect([pace, allowed.filter(Boolean).length]).toEqual([pace, pace.burst]);
    }
  });
});

describe('a pace in Redis', () => {
  let redis: TestRedis;
  let clients: Redis[];
  beforeAll(async () => {
    redis = await startTestRedis();
    clients = [new Redis(redis.url), new Redis(redis.url)];
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await redis?.stop();
  });

  it('is shared by the instances: what one took, another cannot; and comes back at the pace, on Redis’s clock', async () => {
    const [one, two] = clients.map((client) => redisPacedCounter(client, PACE));
    expect(await takes(one, 'shared', 2)).toEqual([true, true]);
    expect(await takes(two, 'shared', 2)).toEqual([true, false]);
    const refused = await one('shared', 1, false);
    expect(refused.allowed).toBe(false);
    expect(refused.retryInMs).toBeGreaterThan(0);
    expect(refused.retryInMs).toBeLessThanOrEqual(100);
    await sleep(refused.retryInMs + 5);
    expect(await takes(two, 'shared', 2)).toEqual([true, false]);
  });

  it('takes a charge past the limit (a minute past the burst at most), refuses without storing, and keeps a key no longer than it matters', async () => {
    const [one] = clients.map((client) => redisPacedCounter(client, PACE));
    await one('charged', 3, false);
    expect((await one('charged', 5, true)).allowed).toBe(false);
    const refused = await one('charged', 1, false);
    expect(refused.retryInMs).toBeGreaterThan(500);
    expect(refused.retryInMs).toBeLessThanOrEqual(600);
    const ttl = await clients[0].pttl('chat:pace:charged');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(801);
    await one('capped', 1_000_000, true);
    expect((await one('capped', 1, false)).retryInMs).toBeLessThanOrEqual(60_100);
    expect(await clients[0].pttl('chat:pace:capped')).toBeLessThanOrEqual(60_301);
    await one('full', 3, false);
    expect((await one('full', 1, false)).allowed).toBe(false);
    expect(await clients[0].pttl('chat:pace:full')).toBeLessThanOrEqual(301); // the refused one stored nothing
  });

  it('lets a take larger than the burst through as one unit would be, and gives exactly the burst at any pace', async () => {
    const [one] = clients.map((client) => redisPacedCounter(client, PACE));
    await one('parts', 1, false);
    expect((await one('parts', 3, false)).allowed).toBe(false);
    expect((await one('parts', 3, false, 1)).allowed).toBe(true);
    await one('large', 2, false);
    expect((await one('large', 50, false)).allowed).toBe(true);
    expect((await one('large', 1, false)).retryInMs).toBeGreaterThan(4_900);
    for (const pace of [{ perMinute: 9, burst: 1 }, { perMinute: 700, burst: 200 }, { perMinute: 7, burst: 7 }]) {
      const counter = redisPacedCounter(clients[1], pace);
      const key = `odd-${pace.perMinute}`;
      // Sent at once (ioredis pipelines them): 201 round trips one after another took over the 86 ms in which
      // a pace of 700 a minute gives one back, on a loaded machine.
      const allowed = await Promise.all(Array.from({ length: pace.burst + 1 }, async () => (await counter(key, 1, false)).allowed));
      expect([pace, allowed.filter(Boolean).length]).toEqual([pace, pace.burst]);
    }
  });
});

describe('RATE_LIMIT_REQUESTS_BURST', () => {
  it("bounds the requests a viewer sends at once to the burst, then serves them at the minute's pace", async () => {
    fakeClock();
    try {
      const limiter = createRateLimiter(
        { requestsPerMinute: 1200, requestBurst: 200, generationsPerMinute: 0, bytesPerDay: 0, streamedBytesPerHour: 0 },
        { log: pino({ level: 'silent' }) },
      );
      const viewer = { userId: `burst-${Date.now()}`, orgId: null };
      const served = async (n: number) => (await Promise.allSettled(Array.from({ length: n }, () => limiter.request(viewer)))).filter((r) => r.status === 'fulfilled').length;
      expect(await served(1200)).toBe(200); // a fixed window served all 1,200 at once
      vi.advanceTimersByTime(1_000);
      expect(await served(100)).toBe(20);
      await limiter.charge(viewer, 100); // what its subscriptions' events resolved meanwhile: the next 5 s
      vi.advanceTimersByTime(4_999);
      expect(await served(1)).toBe(0);
      vi.advanceTimersByTime(51);
      expect(await served(1)).toBe(1);
      // One that counts as more than a minute's can never pass: refused without a time to come back.
      vi.advanceTimersByTime(60_000);
      const never = await limiter.request(viewer, 1201).catch((error: unknown) => error);
      expect(never).toMatchObject({ extensions: { code: 'RATE_LIMITED' }, message: expect.stringContaining('can never pass') });
      expect((never as { extensions: Record<string, unknown> }).extensions.retryAfter).toBeUndefined();
      await expect(limiter.request(viewer, Number.NaN)).rejects.toThrow(RangeError);
      await expect(limiter.charge(viewer, Number.NaN)).rejects.toThrow(RangeError);
      expect(await served(1)).toBe(1); // neither counted
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts a request in parts as one: a batch of mutations, a WebSocket message of many 64 KiB, past the burst in all, pass as one request would', async () => {
    // One request given back a second: at 600 a minute, a batch that took over 200 ms on a loaded machine was
    // given back enough by its end for the next request to pass.
    const t = await startTestApp({ RATE_LIMIT_REQUESTS_PER_MINUTE: '60', RATE_LIMIT_REQUESTS_BURST: '5' });
    try {
      const viewer = await t.viewer();
      // Six mutations: the request's own, then five more, as many as the burst. Refused for good when judged apart.
      const batch = Array.from({ length: 6 }, (_, i) => `c${i}: createConversation(input: { title: "${i}" }) { conversation { id } }`).join(' ');
      expect((await t.request(`mutation { ${batch} }`, {}, viewer)).body.errors).toBeUndefined();
      expect((await t.request('{ viewer { userId } }', {}, viewer)).status).toBe(429); // all six counted
      // Over a WebSocket, for a viewer who has sent nothing yet: a message of 8 requests' worth (7 × 64 KiB and
      // more), charged as it came, then its operation.
      const fresh = await t.viewer();
      const server = await t.listen();
      const client = wsClient(server, fresh);
      const result = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: '{ viewer { userId } }', extensions: { pad: 'p'.repeat(7 * 64 * 1024 + 10) } }, { next: resolve, error: reject, complete: () => {} });
      });
      expect(result).toEqual({ data: { viewer: { userId: fresh.userId } } });
      await client.dispose();
    } finally {
      await t.close();
    }
  });

  it('is 200 by default; over HTTP past it a request is answered 429 with Retry-After', async () => {
    expect(loadConfig({}).rateLimits.requestBurst).toBe(200);
    const t = await startTestApp({ RATE_LIMIT_REQUESTS_BURST: '200' });
    try {
      const viewer = await t.viewer();
      const started = performance.now();
      const responses = await Promise.all(Array.from({ length: 400 }, () => t.request('{ __typename }', {}, viewer)));
      const elapsed = performance.now() - started;
      const served = responses.filter((r) => r.status === 200).length;
      expect(served).toBeGreaterThanOrEqual(200);
      expect(served).toBeLessThanOrEqual(200 + Math.ceil(elapsed / 50)); // one more each 50 ms
      const refused = responses.find((r) => r.status === 429);
      expect(refused?.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    } finally {
      await t.close();
    }
  });
});
