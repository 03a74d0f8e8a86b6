// Builds the application from a configuration: database, pubsub, models, authentication, GraphQL handler.
import type { Config } from './config.ts';
import { createAuthenticator } from './auth.ts';
import type { AppServices } from './context.ts';
import { openDatabase } from './db.ts';
import { purgeExpiredIdempotencyRecords } from './idempotency.ts';
import { createLogger, type Logger } from './logger.ts';
import { createModelRegistry } from './models/registry.ts';
import { createAppPubSub } from './pubsub.ts';
import { createGraphQLHandler, type GraphQLHandler } from './yoga.ts';

export type App = {
  services: AppServices;
  yoga: GraphQLHandler;
  close: () => Promise<void>;
};

const HOUR = 3_600_000;

export type AppOptions = { log?: Logger; onQuery?: (sql: string) => void };

export async function createApp(config: Config, { log = createLogger(config), onQuery }: AppOptions = {}): Promise<App> {
  const database = await openDatabase(config.databaseUrl, { log, onQuery });
  const services: AppServices = {
    config,
    log,
    prisma: database.prisma,
    pubsub: createAppPubSub(),
    models: createModelRegistry(),
    authenticate: createAuthenticator(config),
  };
  const housekeeping = setInterval(() => {
    purgeExpiredIdempotencyRecords(services.prisma, config.idempotencyTtlMs).catch((err) => log.warn({ err }, 'idempotency purge failed'));
  }, HOUR);
  housekeeping.unref();

  return {
    services,
    yoga: createGraphQLHandler(services),
    close: async () => {
      clearInterval(housekeeping);
      await database.close();
    },
  };
}
