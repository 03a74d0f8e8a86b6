// With REDIS_URL: what several instances share through Redis, on one set of connections: the pubsub event
// target (subscriptions), the generation event log, and the connections the rate limiter counts on. The
// app loads this module only then, so a server without Redis holds no Redis client.
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { Logger } from './logger.ts';
import type { PubSubEventTarget } from 'graphql-yoga';
import type { Topics } from './pubsub.ts';
import { connectRedis } from './redis.ts';
import { createRedisEventLog } from './streams/redis-event-log.ts';

export async function connectSharedStores(url: string, { log, retentionMs }: { log: Logger; retentionMs: number }) {
  const redis = await connectRedis(url, log);
  return {
    redis,
    eventTarget: createRedisEventTarget({ publishClient: redis.publisher, subscribeClient: redis.subscriber }) as PubSubEventTarget<Topics>,
    eventLog: createRedisEventLog({ redis, retentionMs, log }),
  };
}
