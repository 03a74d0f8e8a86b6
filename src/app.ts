// Builds the application from a configuration: database, pubsub, models, generation, authentication and
// the GraphQL handler; and takes it down again in order.
import { randomUUID } from 'node:crypto';
import type { Config } from './config.ts';
import { createAuthenticator } from './auth.ts';
import type { AppServices } from './context.ts';
import { openDatabase } from './db.ts';
import { purgeExpiredIdempotencyRecords } from './idempotency.ts';
import { createLogger, type Logger } from './logger.ts';
import { createModelRegistry } from './models/registry.ts';
import { createAppPubSub } from './pubsub.ts';
import { createMemoryEventLog } from './streams/memory-event-log.ts';
import { GenerationRunner } from './generation/runner.ts';
import { recoverAbandonedGenerations, STALE_AFTER_MS } from './generation/recovery.ts';
import { createGraphQLHandler, type GraphQLHandler } from './yoga.ts';

export type App = {
  services: AppServices;
  yoga: GraphQLHandler;
  /** Lets running generations finish (within the grace period), then closes everything. */
  close: () => Promise<void>;
};

export type AppOptions = { log?: Logger; onQuery?: (sql: string) => void };

const HOUR = 3_600_000;

export async function createApp(config: Config, { log = createLogger(config), onQuery }: AppOptions = {}): Promise<App> {
  const database = await openDatabase(config.databaseUrl, { log, onQuery });
  const prisma = database.prisma;
  const pubsub = createAppPubSub();
  const models = createModelRegistry(config.models);
  const eventLog = createMemoryEventLog({ retentionMs: config.generation.streamRetentionMs });
  const runnerId = randomUUID();
  const generation = new GenerationRunner({ prisma, eventLog, models, pubsub, log, config: config.generation, runnerId });
  const services: AppServices = { config, log, prisma, pubsub, models, eventLog, generation, authenticate: createAuthenticator(config) };

  // The embedded database has one process: whatever is STREAMING at start was left by a stopped server.
  const recovery = { prisma, eventLog, pubsub, runnerId, log };
  await recoverAbandonedGenerations(recovery, { everyOther: database.kind === 'pglite' });

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

  return {
    services,
    yoga: createGraphQLHandler(services),
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      await generation.shutdown(config.generation.shutdownGraceMs);
      await cancelRequests.return?.();
      await eventLog.close();
      await database.close();
    },
  };
}
