import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';
import { currentRequest } from './observability/request-context.ts';

export type { Logger };

/** Every line written while serving a request carries its request id. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = { level: config.logLevel, base: undefined, mixin: () => currentRequest() ?? {} };
  return destination ? pino(options, destination) : pino(options);
}
