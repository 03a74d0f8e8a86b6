// Builds the application from a configuration: database, pubsub and generation streams (in process, or
// Redis for several instances), models, generation, authentication and the GraphQL handler; and takes it
// down again in order.
import { randomUUID } from 'node:crypto';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { Config } from './config.ts';
import { createAuthenticator } from './auth.ts';
import type { AppServices } from './context.ts';
import { openDatabase } from './db.ts';
import { purgeExpiredIdempotencyRecords } from './idempotency.ts';
import { createLogger, type Logger } from './logger.ts';
import { createModelRegistry } from './models/registry.ts';
import { createProviderStreams } from './models/provider-streams.ts';
import { createAppPubSub } from './pubsub.ts';
import { connectRedis, withTimeout, type RedisConnections } from './redis.ts';
import type { GenerationEventLog } from './streams/event-log.ts';
import { createMemoryEventLog } from './streams/memory-event-log.ts';
import { createRedisEventLog } from './streams/redis-event-log.ts';
import { GenerationRunner } from './generation/runner.ts';
import { recoverAbandonedGenerations, STALE_AFTER_MS } from './generation/recovery.ts';
import { stopActiveGeneration } from './generation/stop.ts';
import { MessageFollowers } from './generation/stream.ts';
import { createGraphQLHandler, type GraphQLHandler } from './yoga.ts';
import { createRateLimiter } from './rate-limit.ts';
import { loadTokenizer } from './tokens.ts';

export type Readiness = { ready: boolean; checks: Record<string, boolean> };

export type App = {
  services: AppServices;
  yoga: GraphQLHandler;
  /** Database (and Redis) answering, and not shutting down. */
  readiness(): Promise<Readiness>;
  /** Stops taking new generations; lets running ones finish within the grace period, then interrupts them. */
  drain(): Promise<void>;
  /** Drains, then closes every connection. */
  close(): Promise<void>;
};

export type AppOptions = { log?: Logger; onQuery?: (sql: string) => void };

const HOUR = 3_600_000;

export async function createApp(config: Config, { log = createLogger(config), onQuery }: AppOptions = {}): Promise<App> {
  const models = createModelRegistry(config.models); // first: a bad DEFAULT_MODEL stops us before any I/O
  const database = await openDatabase(config.databaseUrl, { log, onQuery, poolSize: config.databasePoolSize });
  const prisma = database.prisma;
  const redis: RedisConnections | null = config.redisUrl ? await connectRedis(config.redisUrl, log) : null;
  const pubsub = createAppPubSub(redis ? createRedisEventTarget({ publishClient: redis.publisher, subscribeClient: redis.subscriber }) : undefined);
  const retentionMs = config.generation.streamRetentionMs;
  const eventLog: GenerationEventLog = redis ? createRedisEventLog({ redis, retentionMs, log }) : createMemoryEventLog({ retentionMs });
  const runnerId = randomUUID();
  const providers = createProviderStreams(models, config.models, log);
  // Now, rather than in the first request that counts tokens; after the provider threads have started, so
  // that they load meanwhile.
  await loadTokenizer();
  const generation = new GenerationRunner({ prisma, eventLog, providers, pubsub, log, config: config.generation, runnerId });
  const rateLimiter = createRateLimiter(config.rateLimits, { redis: redis?.commands, log });
  const stopGeneration = (conversationId: string) => stopActiveGeneration({ prisma, pubsub, eventLog, generation, log }, conversationId);
  const followers = new MessageFollowers(prisma, log);
  const services: AppServices = { config, log, prisma, pubsub, models, eventLog, generation, rateLimiter, stopGeneration, followers, authenticate: createAuthenticator(config) };

  // The embedded database has one process: whatever is STREAMING at start was left by a stopped server.
  const recovery = { prisma, eventLog, pubsub, runnerId, log, isRunning: (messageId: string) => generation.isRunning(messageId) };
  // A failure here is logged and tried again by the timer below: it never stops the server from starting.
  await recoverAbandonedGenerations(recovery, { everyOther: database.kind === 'pglite' }).catch((err) =>
    log.error({ err }, 'generation recovery failed at start; will try again'),
  );

  // Cancel requests reach every instance; the one running the generation aborts it.
  const cancelRequests = pubsub.subscribe('generation:cancel');
  void (async () => {
    for await (const messageId of cancelRequests) generation.cancel(messageId);
  })();

  const timers = [
    setInterval(() => {
      purgeExpiredIdempotencyRecords(prisma, config.idempotencyTtlMs).catch((err) => log.warn({ err }, 'idempotency purge failed'));
    }, HOUR),
    // Other instances can die too: their generations are finished once their heartbeat is stale.
    setInterval(() => {
      recoverAbandonedGenerations(recovery).catch((err) => log.warn({ err }, 'generation recovery failed'));
    }, STALE_AFTER_MS),
  ];
  for (const timer of timers) timer.unref();

  let drained: Promise<void> | null = null;
  const drain = () =>
    (drained ??= (async () => {
      await generation.shutdown(config.generation.shutdownGraceMs);
      // Subscribers here get the ends of those streams before their connections close.
      await followers.done(2_000);
    })());
  let closed: Promise<void> | null = null;

  return {
    services,
    yoga: createGraphQLHandler(services),
    async readiness() {
      const databaseUp = await withTimeout(prisma.$queryRaw`SELECT 1`, 2000).then(() => true, () => false);
      const checks: Record<string, boolean> = { database: databaseUp, accepting: generation.accepting };
      if (redis) checks.redis = await redis.ping();
      return { ready: Object.values(checks).every(Boolean), checks };
    },
    drain,
    close: () =>
      (closed ??= (async () => {
        await drain();
        await providers.close();
        for (const timer of timers) clearInterval(timer);
        await cancelRequests.return?.();
        await eventLog.close();
        await redis?.close();
        await database.close();
      })()),
  };
}
