// Connections to Redis (REDIS_URL), one per role: commands, pubsub publishing, pubsub subscribing, and
// the blocking reads that follow live generation streams (a blocked connection can do nothing else).
import { Redis } from 'ioredis';
import type { Logger } from './logger.ts';
import { withTimeout } from './timeout.ts';

export type RedisConnections = {
  commands: Redis;
  publisher: Redis;
  subscriber: Redis;
  blocking: Redis;
  ping(): Promise<boolean>;
  close(): Promise<void>;
};

/** Far longer than any command takes a Redis that answers (under a millisecond, here). */
const COMMAND_TIMEOUT_MS = 2000;
/** How long the stream reader's XREAD blocks (redis-event-log.ts). */
export const BLOCK_MS = 1000;

export async function connectRedis(url: string, log: Logger): Promise<RedisConnections> {
  const open = (role: string, { queueWhileDown, commandTimeout }: { queueWhileDown: boolean; commandTimeout?: number }) => {
    const redis = new Redis(url, {
      lazyConnect: true,
      // A Redis that stops answering (paused, or its host gone without a reset) fails the commands that wait
      // on it, as one that is down does: without it, every request waited for its rate count as long. And
      // a connection that waits that long for a reply is dropped and made again: a half-open one would
      // otherwise stay until the kernel gives up on it, some fifteen minutes.
      commandTimeout,
      socketTimeout: commandTimeout ?? COMMAND_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
      connectionName: `chat-api:${role}`,
      // Stream commands must not be queued, or re-sent after a reconnect, behind their callers' backs: a
      // Redis that restarted empty would get entries 11, 12, … without 1–10. Their callers retry themselves.
      ...(queueWhileDown ? { maxRetriesPerRequest: null } : { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 }),
    });
    let down = false;
    redis.on('error', (err) => {
      if (!down) log.warn({ err, role }, 'redis connection lost; reconnecting');
      down = true;
    });
    redis.on('ready', () => {
      if (down) log.info({ role }, 'redis connection back');
      down = false;
    });
    return redis;
  };
  const connections = {
    commands: open('commands', { queueWhileDown: false, commandTimeout: COMMAND_TIMEOUT_MS }),
    publisher: open('publisher', { queueWhileDown: true }),
    subscriber: open('subscriber', { queueWhileDown: true }),
    // Its reads block for up to a second by design.
    blocking: open('blocking', { queueWhileDown: false, commandTimeout: BLOCK_MS + COMMAND_TIMEOUT_MS }),
  };
  await Promise.all(Object.values(connections).map((redis) => redis.connect()));
  return {
    ...connections,
    async ping() {
      try {
        return (await withTimeout(connections.commands.ping(), 1000)) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      await Promise.all(Object.values(connections).map((redis) => redis.quit().catch(() => redis.disconnect())));
    },
  };
}
