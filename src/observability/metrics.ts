// Prometheus metrics (prom-client), one registry per app: GraphQL operations and their errors, open
// sockets and subscriptions, generations (running, time to first token, duration, tokens, provider
// failures) and the Redis event log's backlog. Label values come from bounded sets only (operation types,
// schema root fields, configured models, error codes, failure kinds), never from what a client names.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type FailureKind = 'http' | 'connection' | 'timeout' | 'overtime' | 'invalid_prompt';

/** What the generation runner reports. */
export type GenerationMetrics = {
  started(model: string): void;
  firstToken(model: string, seconds: number): void;
  finished(model: string, status: string, seconds: number, outputTokens: number): void;
  providerFailed(model: string, kind: FailureKind): void;
};

export type Metrics = GenerationMetrics & {
  registry: Registry;
  operation(type: string, field: string, seconds: number | null): void;
  errors(codes: readonly string[]): void;
  socketOpened(): void;
  socketClosed(): void;
  subscriptionOpened(): void;
  subscriptionClosed(): void;
  /** Reads the backlog when the metrics are collected. */
  watchEventLogBacklog(backlog: () => number): void;
};

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const GENERATION_SECONDS = [0.5, 1, 2.5, 5, 10, 20, 40, 60, 120, 300];

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  const operations = new Counter({ name: 'graphql_operations_total', help: 'GraphQL operations run, by type and first root field.', labelNames: ['type', 'field'], registers });
  const operationSeconds = new Histogram({ name: 'graphql_operation_duration_seconds', help: 'Time to run a query or mutation.', labelNames: ['type', 'field'], buckets: SECONDS, registers });
  const errors = new Counter({ name: 'graphql_errors_total', help: 'Errors sent to clients, by code.', labelNames: ['code'], registers });
  const sockets = new Gauge({ name: 'websocket_connections', help: 'Open WebSocket connections.', registers });
  const subscriptions = new Gauge({ name: 'graphql_subscriptions', help: 'Open subscriptions (WebSocket and SSE).', registers });
  const running = new Gauge({ name: 'generations_running', help: 'Assistant replies being generated on this instance.', registers });
  const firstToken = new Histogram({ name: 'generation_time_to_first_token_seconds', help: 'From the start of a generation to its first streamed text.', labelNames: ['model'], buckets: SECONDS.concat([20, 60]), registers });
  const duration = new Histogram({ name: 'generation_duration_seconds', help: 'From the start of a generation to its end.', labelNames: ['model', 'status'], buckets: GENERATION_SECONDS, registers });
  const tokens = new Counter({ name: 'generation_output_tokens_total', help: 'Tokens of generated replies (as the provider reports them, else counted).', labelNames: ['model'], registers });
  const failures = new Counter({ name: 'provider_failures_total', help: 'Model provider failures, by kind.', labelNames: ['model', 'kind'], registers });
  let backlog: () => number = () => 0;
  new Gauge({
    name: 'redis_event_log_backlog',
    help: 'Stream events generated here and not yet copied to Redis.',
    registers,
    collect() {
      this.set(backlog());
    },
  });

  return {
    registry,
    operation(type, field, seconds) {
      operations.inc({ type, field });
      if (seconds !== null) operationSeconds.observe({ type, field }, seconds);
    },
    errors(codes) {
      for (const code of codes) errors.inc({ code });
    },
    socketOpened: () => sockets.inc(),
    socketClosed: () => sockets.dec(),
    subscriptionOpened: () => subscriptions.inc(),
    subscriptionClosed: () => subscriptions.dec(),
    started: () => running.inc(),
    firstToken: (model, seconds) => firstToken.observe({ model }, seconds),
    finished(model, status, seconds, outputTokens) {
      running.dec();
      duration.observe({ model, status }, seconds);
      tokens.inc({ model }, outputTokens);
    },
    providerFailed: (model, kind) => failures.inc({ model, kind }),
    watchEventLogBacklog(read) {
      backlog = read;
    },
  };
}
