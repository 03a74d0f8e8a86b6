// The event log's entries in Redis: compact for the events a reply is mostly made of, and read back the same
// whether written so or in the earlier form (every event as JSON under `e`), live and from the start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { connectRedis, type RedisConnections } from '../src/redis.ts';
import { createRedisEventLog } from '../src/streams/redis-event-log.ts';
import { entryFields, eventOfEntry } from '../src/streams/redis-entries.ts';
import type { StreamEvent } from '../src/streams/events.ts';
import type { GenerationEventLog } from '../src/streams/event-log.ts';
import { createLogger } from '../src/logger.ts';
import { startTestRedis, type TestRedis } from './redis-server.ts';

const EVENTS: StreamEvent[] = [
  { type: 'started', sequenceNumber: 0 },
  { type: 'delta', sequenceNumber: 1, delta: 'Hé 😀 ' },
  { type: 'delta', sequenceNumber: 2, delta: '' },
  { type: 'reasoning', sequenceNumber: 3, delta: 'think\non "it"' },
  { type: 'toolCallDelta', sequenceNumber: 4, toolCallId: 'call_1', name: 'weather', argumentsDelta: '{"ci' },
  { type: 'toolCallDelta', sequenceNumber: 5, toolCallId: 'call_1', name: 'weather', argumentsDelta: '' },
  { type: 'toolCall', sequenceNumber: 6, toolCall: { id: 'call_1', name: 'weather', arguments: '{"city":"Lisbon"}' } },
  { type: 'delta', sequenceNumber: 7, delta: 'a\ud83d' }, // an emoji cut in two: its halves in two deltas
  { type: 'delta', sequenceNumber: 8, delta: '\ude00b' },
  { type: 'toolCallDelta', sequenceNumber: 9, toolCallId: 'call_1', name: 'weather', argumentsDelta: '\ud83d' },
  { type: 'completed', sequenceNumber: 10, status: 'COMPLETED' },
];

const drain = async (events: AsyncIterableIterator<StreamEvent> | null) => {
  const read: StreamEvent[] = [];
  for await (const event of events!) read.push(event);
  return read;
};

describe('event log entries in Redis', () => {
  it('turn every kind of event into fields and back, and read the earlier JSON form the same', () => {
    for (const event of EVENTS) {
      expect(eventOfEntry(event.sequenceNumber, entryFields(event))).toEqual(event);
      expect(eventOfEntry(event.sequenceNumber, ['e', JSON.stringify(event)])).toEqual(event);
    }
    expect(entryFields(EVENTS[1])).toEqual(['t', 'Hé 😀 ']);
  });

  describe('through a Redis', () => {
    let redis: TestRedis;
    let connections: RedisConnections;
    let log: GenerationEventLog;
    let client: Redis;
    beforeAll(async () => {
      redis = await startTestRedis();
      connections = await connectRedis(redis.url, createLogger({ logLevel: 'silent' }));
      log = createRedisEventLog({ redis: connections, retentionMs: 60_000, log: createLogger({ logLevel: 'silent' }) });
      client = new Redis(redis.url);
    });
    afterAll(async () => {
      client.disconnect();
      await log.close();
      await connections.close();
      await redis.stop();
    });

    it('a reader following live and one reading from the start get every event as written; a delta is stored bare', async () => {
      await log.open('m-live');
      const live = log.read('m-live', 0);
      for (const event of EVENTS.slice(1)) await log.append('m-live', event);
      expect(await drain(await live)).toEqual(EVENTS.slice(1));
      expect(await drain(await log.read('m-live', -1))).toEqual(EVENTS);
      const [[, fields]] = (await client.xrange('chat:generation:m-live', '0-2', '0-2')) as [string, string[]][];
      expect(fields).toEqual(['t', 'Hé 😀 ']);
    });

    it('a stream written in the earlier form is read back whole', async () => {
      for (const event of EVENTS) await client.xadd('chat:generation:m-old', `0-${event.sequenceNumber + 1}`, 'e', JSON.stringify(event));
      expect(await drain(await log.read('m-old', -1))).toEqual(EVENTS);
      expect(await drain(await log.read('m-old', 3))).toEqual(EVENTS.slice(4));
    });
  });
});
