// `npm start`: configuration from the environment, then serve until SIGINT/SIGTERM.
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createApp } from './app.ts';
import { createLogger } from './logger.ts';
import { startServer } from './server.ts';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const log = createLogger(config);
try {
  const app = await createApp(config, { log });
  const server = await startServer(app, config);
  // Stop taking work, let running generations finish (or mark them INTERRUPTED after the grace period),
  // then close subscriptions with "going away" and every connection.
  const stop = async (signal: string) => {
    log.info({ signal, graceMs: config.generation.shutdownGraceMs }, 'shutting down');
    server.stopAccepting();
    await app.drain();
    await server.close();
    await app.close();
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  if (!config.jwtSecret) log.warn('AUTH_JWT_SECRET is not set: requests without a token act as the local user "dev"');
  if (config.env === 'production' && config.databaseUrl.startsWith('pglite:')) {
    log.warn(
      { database: config.databaseUrl },
      'PRODUCTION ON THE EMBEDDED DATABASE: one process, one disk, no replicas and no scale-out. Set DATABASE_URL to a PostgreSQL server for anything that matters.',
    );
  }
  if (config.env === 'production' && config.metricsToken === undefined) {
    log.warn('METRICS_TOKEN is not set: /metrics (memory, event loop, request and error counts) is open to anyone who can reach this server');
  }
  log.info({ url: server.url, database: config.databaseUrl.split(':')[0], redis: Boolean(config.redisUrl) }, `serving GraphQL at ${server.url}`);
} catch (error) {
  // Configuration that only building the app can check (DEFAULT_MODEL against the providers): one line too.
  if (error instanceof ConfigError) console.error(error.message);
  else log.fatal({ err: error }, `could not start: ${(error as Error).message}`);
  process.exit(1);
}
