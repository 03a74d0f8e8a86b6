// Builds the application from a configuration: database, pubsub and generation streams (in process, or
// Redis for several instances), models, generation, authentication and the GraphQL handler; and takes it
// down again in order.
import { randomUUID } from 'node:crypto';
import type { Config } from './config.ts';
import { createAuthenticator } from './auth.ts';
import type { AppServices } from './context.ts';
import { openDatabase } from './db.ts';
import { purgeExpiredIdempotencyRecords } from './idempotency.ts';
import { createLogger, type Logger } from './logger.ts';
import { createModelRegistry } from './models/registry.ts';
import { createProviderStreams } from './models/provider-streams.ts';
import { createAppPubSub } from './pubsub.ts';
import { withTimeout } from './timeout.ts';
import { atMostEvery } from './at-most-every.ts';
import type { GenerationEventLog } from './streams/event-log.ts';
import { createMemoryEventLog } from './streams/memory-event-log.ts';
import { GenerationRunner } from './generation/runner.ts';
import { ConversationTitler } from './conversations/titles.ts';
import { EventLoaders } from './event-loaders.ts';
import { recoverAbandonedGenerations, STALE_AFTER_MS } from './generation/recovery.ts';
import { stopActiveGeneration } from './generation/stop.ts';
import { MessageFollowers } from './generation/stream.ts';
import { createGraphQLHandler, loadGraphiQL, type GraphQLHandler } from './yoga.ts';
import { createRateLimiter } from './rate-limit.ts';
import { createMetrics } from './observability/metrics.ts';
import { startTracing } from './observability/tracing.ts';
import { loadPersistedOperations, type PersistedOperations } from './persisted-operations.ts';
import { OpenConnections } from './connection-limits.ts';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createStorageQuota } from './storage-quota.ts';

export type Readiness = { ready: boolean; checks: Record<string, boolean> };

export type App = {
  services: AppServices;
  yoga: GraphQLHandler;
  /** The only operations accepted, when PERSISTED_OPERATIONS is set. */
  persistedOperations: PersistedOperations | null;
  /** Long-lived connections per viewer (WebSockets and SSE subscriptions). */
  connections: OpenConnections;
  /** Database (and Redis) answering, and not shutting down. */
  readiness(): Promise<Readiness>;
  /**
   * A pass of recovery: replies left STREAMING by a runner that stopped are finished. The pass running, if
   * one is (at start and every 15 s one runs by itself).
   */
  recoverAbandoned(): Promise<void>;
  /** Stops taking new generations; lets running ones finish within the grace period, then interrupts them. */
  drain(): Promise<void>;
  /** Drains, then closes every connection. */
  close(): Promise<void>;
};

export type AppOptions = {
  log?: Logger;
  onQuery?: (sql: string) => void;
  /** Spans go here rather than to OTEL_EXPORTER_OTLP_ENDPOINT (tests). */
  spanExporter?: SpanExporter;
};

const HOUR = 3_600_000;

export async function createApp(config: Config, { log = createLogger(config), onQuery, spanExporter }: AppOptions = {}): Promise<App> {
  // First, checked before any I/O: a bad DEFAULT_MODEL or PERSISTED_OPERATIONS file stops the start.
  const models = createModelRegistry(config.models);
  const persistedOperations = loadPersistedOperations(config.persistedOperationsFile);
  // Before the database opens, so that its client is instrumented.
  const tracing = await startTracing(config.tracing, spanExporter);
  const metrics = createMetrics();
  const connections = new OpenConnections(config.webSocketLimits.socketsPerUser);
  const database = await openDatabase(config.databaseUrl, { log, onQuery, poolSize: config.databasePoolSize, statementTimeoutMs: config.databaseStatementTimeoutMs, preparedStatements: config.databasePreparedStatements });
  const prisma = database.prisma;
  const retentionMs = config.generation.streamRetentionMs;
  const shared = config.redisUrl ? await (await import('./redis-stores.ts')).connectSharedStores(config.redisUrl, { log, retentionMs }) : null;
  const redis = shared?.redis ?? null;
  const pubsub = createAppPubSub(shared?.eventTarget);
  const eventLog: GenerationEventLog = shared?.eventLog ?? createMemoryEventLog({ retentionMs });
  metrics.watchEventLogBacklog(() => eventLog.backlog());
  const runnerId = randomUUID();
  const providers = createProviderStreams(models, config.models, log);
  const titler = new ConversationTitler({ prisma, providers, pubsub, log, mode: config.generation.titles });
  const rateLimiter = createRateLimiter(config.rateLimits, { redis: redis?.commands, log });
  const storageQuota = createStorageQuota(config.storageBytesPerUser, { prisma, rateLimiter });
  const generation = new GenerationRunner({ prisma, eventLog, providers, pubsub, log, config: config.generation, runnerId, metrics, titler, rateLimiter, storageQuota });
  const stopGeneration = (conversationId: string) => stopActiveGeneration({ prisma, pubsub, eventLog, generation, log }, conversationId);
  const followers = new MessageFollowers(prisma, log);
  const services: AppServices = {
    config,
    log,
    prisma,
    readRows: database.readRows,
    pubsub,
    models,
    eventLog,
    generation,
    rateLimiter,
    storageQuota,
    stopGeneration,
    followers,
    metrics,
    eventLoaders: new EventLoaders({ prisma, readRows: database.readRows, rateLimiter, scansCharged: false }),
    authenticate: createAuthenticator(config),
  };

  let draining = false;
  const recovery = { prisma, eventLog, pubsub, runnerId, log, isRunning: (messageId: string) => generation.isRunning(messageId), stopped: () => draining };
  // One pass at a time: a pass over thousands of abandoned replies outlasts the timer's period, and passes
  // side by side did the same work twice. In the background, from the start: the server serves meanwhile
  // (awaited, 10,000 replies left by a killed instance kept it from listening for a minute).
  let recovering: Promise<void> | null = null;
  const recover = (options: { everyOther?: boolean }, failed: string) =>
    (recovering ??= recoverAbandonedGenerations(recovery, options)
      .then(
        () => {},
        (err) => log.warn({ err }, failed),
      )
      .finally(() => (recovering = null)));
  // The embedded database has one process: whatever is STREAMING at start was left by a stopped server.
  void recover({ everyOther: database.kind === 'pglite' }, 'generation recovery failed at start; will try again');

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
    setInterval(() => void recover({}, 'generation recovery failed'), STALE_AFTER_MS),
  ];
  for (const timer of timers) timer.unref();

  let drained: Promise<void> | null = null;
  const drain = () =>
    (drained ??= (async () => {
      draining = true; // a recovery pass stops after the reply it is finishing
      await generation.shutdown(config.generation.shutdownGraceMs);
      // Subscribers here get the ends of those streams before their connections close.
      await followers.done(2_000);
    })());
  let closed: Promise<void> | null = null;
  // Anyone may ask /ready, as often as they like: the database and Redis are asked at most once a second,
  // and every request meanwhile shares the answer (128 clients asking had it run 850 queries a second).
  const checkServices = atMostEvery(1000, async () => {
    const checks: Record<string, boolean> = { database: await withTimeout(prisma.$queryRaw`SELECT 1`, 2000).then(() => true, () => false) };
    if (redis) checks.redis = await redis.ping();
    return checks;
  });

  return {
    services,
    yoga: createGraphQLHandler(services, { plugins: tracing?.plugins ?? [], aroundOperations: tracing ? [tracing.subscribeWithinSpan] : [], sseConnections: connections, persistedOperations, renderGraphiQL: await loadGraphiQL(config.graphiql) }),
    persistedOperations,
    connections,
    async readiness() {
      const checks: Record<string, boolean> = { ...(await checkServices()), accepting: generation.accepting };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
    recoverAbandoned: () => recover({}, 'generation recovery failed'),
    drain,
    close: () =>
      (closed ??= (async () => {
        await drain();
        await titler.close();
        await providers.close();
        for (const timer of timers) clearInterval(timer);
        await recovering;
        await cancelRequests.return?.();
        await eventLog.close();
        await redis?.close();
        await database.close();
        await tracing?.shutdown();
      })()),
  };
}
