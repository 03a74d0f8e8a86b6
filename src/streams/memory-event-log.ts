// In-process event log. Readers index into one shared array per message, so a slow subscriber costs no
// extra memory and never holds up the writer or other readers.
import type { GenerationEventLog } from './event-log.ts';
import { isTerminal, type StreamEvent } from './events.ts';

type Log = { events: StreamEvent[]; wake: Set<() => void>; finished: boolean };

export type MemoryEventLogOptions = {
  /** How long a finished log stays replayable. */
  retentionMs: number;
  /** Cap on events kept across finished logs; the oldest finished logs go first past it. */
  maxRetainedEvents?: number;
};

export function createMemoryEventLog({ retentionMs, maxRetainedEvents = 2_000_000 }: MemoryEventLogOptions): GenerationEventLog {
  const logs = new Map<string, Log>();
  const finished = new Map<string, { expiresAt: number; size: number }>(); // in finishing order
  let retainedEvents = 0;

  const sweep = setInterval(() => evictExpired(Date.now()), Math.min(retentionMs, 60_000));
  sweep.unref();

  function evict(messageId: string) {
    const entry = finished.get(messageId);
    if (!entry) return;
    finished.delete(messageId);
    logs.delete(messageId);
    retainedEvents -= entry.size;
  }

  function evictExpired(now: number) {
    for (const [messageId, { expiresAt }] of finished) {
      if (expiresAt > now && retainedEvents <= maxRetainedEvents) break;
      evict(messageId);
    }
  }

  return {
    async open(messageId) {
      if (logs.has(messageId)) throw new Error(`The log of ${messageId} is already open`);
      logs.set(messageId, { events: [{ type: 'started', sequenceNumber: 0 }], wake: new Set(), finished: false });
    },

    async append(messageId, event) {
      const log = logs.get(messageId);
      // The end of a reply whose log this process does not have (its runner died with another process, the one
      // before a restart; or its log was dropped after its retention): nobody here follows that log, and its
      // followers read the database.
      if (!log && isTerminal(event)) return;
      if (!log || log.finished) throw new Error(`No open log for ${messageId}`);
      if (event.sequenceNumber !== log.events.length) throw new Error(`Event ${event.sequenceNumber} out of order in ${messageId}`);
      log.events.push(event);
      if (isTerminal(event)) {
        log.finished = true;
        finished.set(messageId, { expiresAt: Date.now() + retentionMs, size: log.events.length });
        retainedEvents += log.events.length;
        evictExpired(Date.now());
      }
      for (const wake of log.wake) wake();
      log.wake.clear();
    },

    async read(messageId, after) {
      const log = logs.get(messageId);
      return log ? follow(log, Math.max(after + 1, 0)) : null;
    },

    async lastSequenceNumber(messageId) {
      const log = logs.get(messageId);
      return log ? log.events.length - 1 : null;
    },

    backlog: () => 0,

    async close() {
      clearInterval(sweep);
    },
  };
}

/** An iterator over log.events from `next`, waiting for appends; return() ends it at once, even mid-wait. */
function follow(log: Log, next: number): AsyncIterableIterator<StreamEvent> {
  let done = false;
  let wakeWaiter: (() => void) | null = null;
  const finish = (): IteratorResult<StreamEvent> => {
    done = true;
    if (wakeWaiter) log.wake.delete(wakeWaiter);
    return { done: true, value: undefined };
  };
  const iterator: AsyncIterableIterator<StreamEvent> = {
    async next() {
      while (!done) {
        if (next < log.events.length) {
          const event = log.events[next++];
          if (isTerminal(event)) done = true;
          return { done: false, value: event };
        }
        if (log.finished) return finish();
        await new Promise<void>((resolve) => {
          wakeWaiter = resolve;
          log.wake.add(resolve);
        });
        wakeWaiter = null;
      }
      return finish();
    },
    async return() {
      const waiting = wakeWaiter;
      const result = finish();
      waiting?.(); // release a next() that is waiting: it sees `done` and ends
      return result;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
