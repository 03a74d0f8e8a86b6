// Event log in Redis Streams, shared by every instance: one stream per generated message, entry id
// `0-<sequenceNumber + 1>`, so Redis itself refuses an entry out of order or twice.
//
// Writing: the instance running a generation keeps its events in memory and copies them to Redis in
// order. If Redis goes away (or restarts empty), the copy resumes from what Redis actually has, so the
// Redis stream is always a gapless prefix of the generation. Once the terminal event is in Redis the
// stream expires after the retention period and the memory copy is dropped.
// A generation whose instance died is ended by another one (recovery, or a forced cancel), which adds
// the terminal event to the stream directly.
//
// Reading: catch up with XRANGE, then follow live entries through one blocking XREAD per instance that
// watches every stream its subscribers wait on.
import { ReplyError, type Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { BLOCK_MS, type RedisConnections } from '../redis.ts';
import type { GenerationEventLog } from './event-log.ts';
import { isTerminal, type StreamEvent } from './events.ts';
import { entryFields, eventOfEntry } from './redis-entries.ts';

const keyOf = (messageId: string) => `chat:generation:${messageId}`;
const idOf = (sequenceNumber: number) => `0-${sequenceNumber + 1}`;
const sequenceOf = (id: string) => Number(id.split('-')[1]) - 1;
/** Safety net for a stream whose writer dies before its terminal event: recovery finishes it well before. */
const OPEN_STREAM_TTL_SECONDS = 24 * 3600;
const BATCH = 500;
/** A reader looks at Redis again at least this often, even without news (expiry, missed wake-ups). */
const RECHECK_MS = 5_000;
/** A copy that failed is tried again after this (and at once when Redis says it is ready again). */
const COPY_RETRY_MS = 1_000;
/** How long the end of an orphaned stream is tried again while Redis is away. */
const ORPHAN_END_RETRY_MS = 120_000;

type Entry = { sequenceNumber: number; event: StreamEvent };
type RawEntries = [id: string, fields: string[]][];

function parseEntries(raw: RawEntries): Entry[] {
  return raw.map(([id, fields]) => {
    const sequenceNumber = sequenceOf(id);
    return { sequenceNumber, event: eventOfEntry(sequenceNumber, fields) };
  });
}

export type RedisEventLogOptions = { redis: RedisConnections; retentionMs: number; log: Logger };

export function createRedisEventLog({ redis, retentionMs, log }: RedisEventLogOptions): GenerationEventLog {
  const writer = new StreamCopier(redis.commands, Math.ceil(retentionMs / 1000), log);
  const watcher = new LiveStreams(redis.blocking, redis.commands, log);

  return {
    async open(messageId) {
      await writer.open(messageId);
    },
    async append(messageId, event) {
      if (writer.has(messageId) || !isTerminal(event)) return writer.append(messageId, event);
      // The end of a generation whose writer died with its instance, written by recovery or a forced
      // cancel: it goes straight to the shared stream, so that its followers on every instance end too.
      // While Redis is away it is tried again for a while; followers meanwhile find the end in the database.
      const end = () => endOrphanedStream(redis.commands, messageId, event, Math.ceil(retentionMs / 1000));
      try {
        await end();
      } catch (err) {
        const until = Date.now() + ORPHAN_END_RETRY_MS;
        void whileRedisAway(end, { giveUp: () => Date.now() > until, pauseMs: 250 }).catch(() => log.warn({ messageId }, 'gave up adding the end of an orphaned stream to redis'));
        throw err;
      }
    },
    async read(messageId, after) {
      const first = await readRange(redis.commands, messageId, after, { log });
      if (first.length === 0 && (await isGone(messageId))) return null;
      return follow(messageId, after, first);
    },
    async lastSequenceNumber(messageId) {
      return writer.lastSequenceNumber(messageId) ?? (await lastInRedis(redis.commands, messageId));
    },
    backlog: () => writer.backlog(),
    async close() {
      watcher.stop();
      await writer.drain();
    },
  };

  /** No log for the message: not being written here, and no stream in Redis (never was, or expired). */
  async function isGone(messageId: string): Promise<boolean> {
    return !writer.has(messageId) && !(await whileRedisAway(() => redis.commands.exists(keyOf(messageId)), { log }));
  }

  /**
   * Catch-up and live entries, in order, with no gap or repeat, ending after the terminal event. Each
   * reader pulls from its own cursor: from the entries this instance keeps for the stream's live readers
   * when they hold its cursor, else straight from Redis (a reader that joined late, or fell behind), so
   * no reader waits on another. return() ends it at once, even while it waits for entries (a generator's
   * own return() would wait for the next entry, which for a message whose writer died may never come).
   */
  function follow(messageId: string, after: number, first: Entry[]): AsyncIterableIterator<StreamEvent> {
    const key = keyOf(messageId);
    let cursor = after;
    let stopped = false;
    let wake: (() => void) | null = null;
    const live = watcher.watch(key, first.at(-1)?.sequenceNumber ?? after, () => wake?.());
    const events = (async function* () {
      try {
        let batch: Entry[] = first;
        while (!stopped) {
          for (const { sequenceNumber, event } of batch) {
            if (sequenceNumber <= cursor) continue;
            if (sequenceNumber !== cursor + 1) break; // a gap: read from Redis below
            yield event;
            cursor = sequenceNumber;
            if (isTerminal(event)) return;
          }
          batch = live.after(cursor);
          if (batch.length) continue;
          if (!live.caughtUp(cursor)) {
            // Behind what this instance keeps (joined late, or the entries went by before it watched): Redis.
            batch = await readRange(redis.commands, messageId, cursor, { log, giveUp: () => stopped });
            if (batch[0]?.sequenceNumber === cursor + 1) continue;
            if (batch.length) return; // not in Redis (yet): the caller waits and reads again
          }
          const woken = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), RECHECK_MS);
            wake = () => (clearTimeout(timer), resolve(true));
          });
          wake = null;
          if (woken || stopped) continue;
          // Quiet for a while: look at Redis directly (a wake-up lost in an outage, or the stream expired).
          batch = await readRange(redis.commands, messageId, cursor, { log, giveUp: () => stopped });
          if (batch.length === 0 && (await isGone(messageId))) return;
        }
      } finally {
        live.close();
      }
    })();
    const iterator: AsyncIterableIterator<StreamEvent> = {
      next: () => events.next(),
      async return() {
        stopped = true;
        wake?.(); // a wait for entries ends now; the generator sees `stopped` and ends
        return events.return(undefined);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}

/** Entries numbered above `after`, read while Redis is away; read, an entry that cannot be parsed throws (once). */
async function readRange(redis: Redis, messageId: string, after: number, retry: RetryOptions): Promise<Entry[]> {
  // `(` makes the start exclusive: entries numbered above `after`.
  return parseEntries((await whileRedisAway(() => redis.xrange(keyOf(messageId), `(${idOf(after)}`, '+', 'COUNT', BATCH), retry)) as RawEntries);
}

/** Adds the terminal event to a stream nobody writes any more, unless it is gone (expired); then it expires. */
async function endOrphanedStream(redis: Redis, messageId: string, event: StreamEvent, retentionSeconds: number): Promise<void> {
  const key = keyOf(messageId);
  const results = (await redis.pipeline().xadd(key, 'NOMKSTREAM', idOf(event.sequenceNumber), ...entryFields(event)).expire(key, retentionSeconds).exec()) ?? [];
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
}

/** The number of the last event of the message's stream in Redis, or null without one. */
async function lastInRedis(redis: Redis, messageId: string): Promise<number | null> {
  const [last] = (await redis.xrevrange(keyOf(messageId), '+', '-', 'COUNT', 1)) as RawEntries;
  return last ? sequenceOf(last[0]) : null;
}

/**
 * `operation`, tried again with growing pauses while Redis is away (a connection error), until `giveUp()`
 * says to stop (a reader that was returned, a deadline): then, or on an error Redis answered with (a
 * command it refuses, which no retry mends), the error is thrown.
 */
type RetryOptions = { log?: Logger; giveUp?: () => boolean; pauseMs?: number };

async function whileRedisAway<T>(operation: () => Promise<T>, { log, giveUp = () => false, pauseMs = 100 }: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (err instanceof ReplyError || giveUp()) throw err;
      if (attempt === 0) log?.warn({ err }, 'redis unreachable; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(pauseMs * 2 ** attempt, 5_000)));
      if (giveUp()) throw err;
    }
  }
}

/** Copies the events of the generations running here to Redis, in order, resuming after any outage. */
class StreamCopier {
  readonly #logs = new Map<string, { events: StreamEvent[]; copied: number; copying: Promise<void> | null; resync: boolean }>();

  constructor(
    private readonly redis: Redis,
    private readonly retentionSeconds: number,
    private readonly log: Logger,
  ) {
    // Back from an outage (maybe a restart that lost everything): find out what Redis has, copy the rest.
    redis.on('ready', () => {
      for (const [messageId, log] of this.#logs) {
        log.resync = true;
        void this.#copy(messageId);
      }
    });
  }

  has(messageId: string): boolean {
    return this.#logs.has(messageId);
  }

  lastSequenceNumber(messageId: string): number | null {
    const log = this.#logs.get(messageId);
    return log ? log.events.length - 1 : null;
  }

  /** Waits for MessageStarted to reach Redis, so a subscriber on any instance finds the stream at once. */
  async open(messageId: string): Promise<void> {
    if (this.#logs.has(messageId)) throw new Error(`The log of ${messageId} is already open`);
    this.#logs.set(messageId, { events: [{ type: 'started', sequenceNumber: 0 }], copied: 0, copying: null, resync: false });
    await this.#copy(messageId);
  }

  append(messageId: string, event: StreamEvent): void {
    const log = this.#logs.get(messageId);
    if (!log) throw new Error(`No open log for ${messageId}`);
    if (event.sequenceNumber !== log.events.length) throw new Error(`Event ${event.sequenceNumber} out of order in ${messageId}`);
    log.events.push(event);
    void this.#copy(messageId);
  }

  /** Events not yet copied, over every stream written here. */
  backlog(): number {
    let total = 0;
    for (const log of this.#logs.values()) total += log.events.length - log.copied;
    return total;
  }

  async drain(): Promise<void> {
    await Promise.all([...this.#logs.values()].map((log) => log.copying));
  }

  /**
   * One copy at a time per stream; whatever was appended meanwhile goes in the next round. Re-syncing
   * with Redis happens inside that same loop, so no copy can start from a stale position.
   */
  #copy(messageId: string): Promise<void> {
    const log = this.#logs.get(messageId);
    if (!log || log.copying) return log?.copying ?? Promise.resolve();
    const copy = async () => {
      try {
        while (this.redis.status === 'ready') {
          if (log.resync) {
            log.copied = ((await lastInRedis(this.redis, messageId)) ?? -1) + 1;
            log.resync = false;
          }
          if (log.copied >= log.events.length) break;
          const batch = log.events.slice(log.copied, log.copied + BATCH);
          const pipeline = this.redis.pipeline();
          for (const event of batch) pipeline.xadd(keyOf(messageId), idOf(event.sequenceNumber), ...entryFields(event));
          const done = isTerminal(batch.at(-1)!);
          pipeline.expire(keyOf(messageId), done ? this.retentionSeconds : OPEN_STREAM_TTL_SECONDS);
          const results = (await pipeline.exec()) ?? [];
          if (results.some(([error]) => error)) {
            log.resync = true; // e.g. an entry that did reach Redis before a lost reply
            continue;
          }
          log.copied += batch.length;
          if (done) this.#logs.delete(messageId);
        }
      } catch (err) {
        log.resync = true; // a reply lost with the connection: what did reach Redis is unknown
        this.log.warn({ err, messageId }, 'could not copy generation events to redis; will resume');
        // A Redis that stopped answering without closing the connection (a command timed out) never says
        // 'ready' again: the copy is tried again after a pause, or the log's last events stay here.
        setTimeout(() => void this.#copy(messageId), COPY_RETRY_MS).unref();
      }
    };
    // Cleared by a callback that runs after this assignment, even when the copy has nothing to do.
    log.copying = copy().finally(() => (log.copying = null));
    return log.copying;
  }
}

/** What a reader sees of a stream this instance watches. */
type LiveView = {
  /** The entries kept here after `cursor`, when they continue it (none otherwise). */
  after(cursor: number): Entry[];
  /** Whether the entries kept here reach back to `cursor`: if so, a reader there has nothing to fetch. */
  caughtUp(cursor: number): boolean;
  close(): void;
};

/**
 * One blocking XREAD for every stream that readers here follow. Entries it reads are kept once per stream
 * (while it has readers), and each reader takes those after its own cursor when it is woken: nothing is
 * queued per reader. The set of streams changes only when a stream gets its first or loses its last reader; then
 * the blocked read is interrupted (CLIENT UNBLOCK) to start again with the new set.
 */
class LiveStreams {
  readonly #streams = new Map<string, { since: number; base: number; entries: Entry[]; wake: Set<() => void> }>();
  #blockingClientId: number | null = null;
  #running = true;
  #wakeLoop: (() => void) | null = null;

  constructor(
    private readonly blocking: Redis,
    private readonly commands: Redis,
    private readonly log: Logger,
  ) {
    void this.#loop();
  }

  /** Watches `key` from `since` (for a new watch); `onEntries` is called when new entries are kept. */
  watch(key: string, since: number, onEntries: () => void): LiveView {
    let stream = this.#streams.get(key);
    if (!stream) {
      this.#streams.set(key, (stream = { since, base: since + 1, entries: [], wake: new Set() }));
      this.#restart();
    }
    const kept = stream;
    kept.wake.add(onEntries);
    return {
      after: (cursor) => {
        const index = cursor + 1 - kept.base;
        return index >= 0 && index < kept.entries.length ? kept.entries.slice(index) : [];
      },
      caughtUp: (cursor) => cursor + 1 >= kept.base,
      close: () => {
        kept.wake.delete(onEntries);
        if (kept.wake.size === 0 && this.#streams.get(key) === kept) this.#streams.delete(key);
      },
    };
  }

  stop(): void {
    this.#running = false;
    this.#restart();
  }

  #restart(): void {
    this.#wakeLoop?.();
    if (this.#blockingClientId !== null) this.commands.client('UNBLOCK', this.#blockingClientId).catch(() => {});
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      if (this.#streams.size === 0) {
        await new Promise<void>((resolve) => (this.#wakeLoop = resolve));
        this.#wakeLoop = null;
        continue;
      }
      const keys = [...this.#streams.keys()];
      const ids = keys.map((key) => idOf(this.#streams.get(key)!.since));
      try {
        this.#blockingClientId ??= Number(await this.blocking.client('ID'));
        // Bounded, so a stream added just as this read went out waits at most this long.
        const result = (await this.blocking.xread('COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids)) as [string, RawEntries][] | null;
        for (const [key, raw] of result ?? []) {
          const stream = this.#streams.get(key);
          if (!stream || raw.length === 0) continue;
          const entries = parseEntries(raw);
          // Kept only while they continue what is kept (a stream that restarted empty begins anew).
          if (entries[0].sequenceNumber !== stream.base + stream.entries.length) stream.entries = [], (stream.base = entries[0].sequenceNumber);
          stream.entries.push(...entries);
          stream.since = entries.at(-1)!.sequenceNumber;
          for (const wake of stream.wake) wake();
        }
      } catch (err) {
        this.#blockingClientId = null; // after an outage the connection, and its id, are new
        if (this.#running) {
          this.log.warn({ err }, 'redis follow failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    }
  }
}
