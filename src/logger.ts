import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';
import { currentRequest } from './observability/request-context.ts';
import { cutText } from './text-cut.ts';

export type { Logger };

/** Every line written while serving a request carries its request id; an error logged is bounded in size. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  // A new object each line: pino merges a line's own fields into what the mixin returns, so the request's
  // context itself would gather every field of every line (a statement, an error) and lend them to the next.
  const mixin = () => ({ requestId: currentRequest()?.requestId });
  const options = { level: config.logLevel, base: undefined, mixin, serializers: { err: boundedError } };
  return destination ? pino(options, destination) : pino(options);
}

/** The most of one text an error logs (its message, its stack, a property), and how deep and wide it goes. */
const MAX_LOGGED = { chars: 4_000, depth: 4, entries: 20 };

/**
 * An error as pino logs it, with every text cut short and every list and object cut narrow: errors carry
 * what others sent. A provider's validation error quotes the vendor's whole event back, with each problem
 * found in it, pretty-printed: an event of 1 MB made a log line of 252 MB, and four at once ended the process.
 */
export function boundedError(err: unknown): unknown {
  return bounded(pino.stdSerializers.err(err as Error), MAX_LOGGED.depth);
}

function bounded(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.length > MAX_LOGGED.chars ? `${cutText(value, MAX_LOGGED.chars)}… (${value.length} characters)` : value;
  if (typeof value !== 'object' || value === null) return value;
  if (depth === 0) return '[…]';
  if (Array.isArray(value)) {
    const kept = value.slice(0, MAX_LOGGED.entries).map((item) => bounded(item, depth - 1));
    return value.length > MAX_LOGGED.entries ? [...kept, `… (${value.length} items)`] : kept;
  }
  const kept: Record<string, unknown> = {};
  let count = 0;
  for (const key in value) {
    if (count++ === MAX_LOGGED.entries) return { ...kept, '…': 'more keys' };
    kept[key] = bounded((value as Record<string, unknown>)[key], depth - 1);
  }
  return kept;
}
