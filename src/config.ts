// Environment → typed, validated configuration, read once. Nothing else reads process.env.
import type { RateLimits } from './rate-limit.ts';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const databaseUrl = z
  .string()
  .trim()
  .refine((url) => /^pglite:.+/.test(url) || isPostgresUrl(url), {
    message: 'expected pglite:<dir>, pglite:memory or postgresql://user@host:port/database',
  });

const MODEL_ID = /^[a-z][a-z0-9-]*:.+$/;
/** A comma-separated list of model names: "gpt-4o-mini, gpt-4.1". */
const modelList = z
  .string()
  .transform((list) => list.split(',').map((name) => name.trim()).filter(Boolean))
  .pipe(z.array(z.string()).min(1, 'list at least one model'));

/** `*`, or a comma-separated list of origins: "https://app.example.com, http://localhost:5173". */
const originList = z
  .string()
  .transform((list) => list.split(',').map((origin) => origin.trim()).filter(Boolean))
  .refine((origins) => origins.length > 0 && origins.every((origin) => origin === '*' || isOrigin(origin)), {
    message: 'expected * or origins such as https://app.example.com, separated by commas',
  });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().trim().min(1).default('localhost'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: databaseUrl.default('pglite:./data/pglite'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  DATABASE_PREPARED_STATEMENTS: z.enum(['true', 'false']).default('true'),
  REDIS_URL: z
    .string()
    .trim()
    .refine((url) => /^rediss?:\/\/[^/]/.test(url), { message: 'expected redis://host:port (or rediss://)' })
    .optional(),
  AUTH_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  MAX_MESSAGE_CHARS: z.coerce.number().int().positive().default(100_000),
  MAX_BRANCH_LANES: z.coerce.number().int().min(2).default(1000),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  RATE_LIMIT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
  RATE_LIMIT_REQUESTS_BURST: z.coerce.number().int().min(1).default(200),
  RATE_LIMIT_GENERATIONS_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  RATE_LIMIT_MB_PER_DAY: z.coerce.number().min(0).default(256),
  RATE_LIMIT_STREAMED_MB_PER_HOUR: z.coerce.number().min(0).default(64),
  STORAGE_MB_PER_USER: z.coerce.number().min(0).default(1024),
  CORS_ORIGINS: originList.optional(),
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: z.coerce.number().int().min(1).default(100),
  WS_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).default(20),
  MAX_CONNECTIONS: z.coerce.number().int().min(1).default(10_000),
  MAX_UNSENT_MB: z.coerce.number().positive().default(256),
  SUBSCRIPTION_COST_PER_USER: z.coerce.number().int().min(1).default(25_000),
  SUBSCRIPTION_CHARS_PER_USER: z.coerce.number().int().min(1).default(4 * 1024 * 1024),

  // Operations.
  GRAPHIQL: z.enum(['true', 'false']).optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).default('chat-graphql-api'),
  PERSISTED_OPERATIONS: z.string().trim().min(1).optional(),

  // Models. builtin:echo is always there; each provider is on when its variables are set.
  DEFAULT_MODEL: z.string().regex(MODEL_ID, 'expected provider:model').optional(),
  ECHO_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(20),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_MODELS: modelList.default(['gpt-4o-mini']),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
  ANTHROPIC_MODELS: modelList.default(['claude-sonnet-4-5']),
  OPENAI_COMPATIBLE_BASE_URL: z.url().optional(),
  OPENAI_COMPATIBLE_API_KEY: z.string().optional(),
  OPENAI_COMPATIBLE_NAME: z.string().regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and dashes').default('local'),
  OPENAI_COMPATIBLE_MODELS: modelList.optional(),
  PROVIDER_THREADS: z.coerce.number().int().min(0).max(16).default(2),

  // Generation.
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  REPLY_MAX_CHARS: z.coerce.number().int().positive().default(500_000),
  REPLY_MAX_SECONDS: z.coerce.number().positive().default(3_600),
  MAX_STREAMING_REPLIES_PER_USER: z.coerce.number().int().min(1).default(20),
  CONTEXT_MAX_TOKENS: z.coerce.number().int().positive().default(16_000),
  STREAM_RETENTION_SECONDS: z.coerce.number().int().positive().default(3600),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  CONVERSATION_TITLES: z.enum(['model', 'first-words', 'off']).default('model'),
});

/** Every environment variable the server reads. */
export const ENVIRONMENT_VARIABLES = Object.keys(envSchema.shape);

export type Config = {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  databaseUrl: string;
  /** Connections to a PostgreSQL server (the embedded database has one). */
  databasePoolSize: number;
  /** Hot pages' statements prepared on each connection, their plans kept (off behind a pooler that cannot keep them). */
  databasePreparedStatements: boolean;
  /** How long PostgreSQL may run one statement; see src/postgres-pool.ts. */
  databaseStatementTimeoutMs: number;
  /** Several instances share pubsub and generation streams through Redis; none: all in process. */
  redisUrl: string | undefined;
  jwtSecret: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  maxMessageChars: number;
  /**
   * Lanes one branch may cross (see Lane in prisma/schema.prisma): every lane lists the lanes of its path,
   * so a branch that turned off at every step made them grow with the square of its depth.
   */
  maxBranchLanes: number;
  idempotencyTtlMs: number;
  /** Per viewer: the per-minute ones as paces, the others in the window each names; 0 turns a limit off. */
  rateLimits: RateLimits;
  /** What one viewer may keep stored, in bytes as the database stores them (0: no limit). */
  storageBytesPerUser: number;
  /**
   * Origins whose pages may call this API from a browser besides its own ('*': any, without
   * credentials). Requests from other origins are refused, in every mode.
   */
  corsOrigins: string[];
  /** Open connections of each listener (HTTP, SSE and WebSocket); past it, new ones are closed at once. */
  maxConnections: number;
  /** Bytes all connections may hold of what their clients have not read yet; past it the furthest behind are cut. */
  maxUnsentBytes: number;
  /** Per WebSocket, and per viewer on this instance. */
  webSocketLimits: { subscriptionsPerSocket: number; socketsPerUser: number };
  /** Fields a viewer's open subscriptions on this instance may resolve for one event (WebSocket and SSE). */
  subscriptionCostPerUser: number;
  /** Characters of the requests (document, variables) a viewer's open subscriptions on this instance keep. */
  subscriptionCharsPerUser: number;
  /** GraphiQL and introspection: on outside production unless GRAPHIQL=false, off in production unless GRAPHIQL=true. */
  graphiql: boolean;
  /** GET /metrics wants `Authorization: Bearer <token>` when set. */
  metricsToken: string | undefined;
  /** OpenTelemetry traces go to this OTLP/HTTP endpoint when set. */
  tracing: { endpoint: string | undefined; serviceName: string };
  /** A manifest { id: query } of the only operations accepted, when set. */
  persistedOperationsFile: string | undefined;
  models: ModelsConfig;
  generation: {
    /** A provider that sends nothing for this long fails the message. */
    providerTimeoutMs: number;
    /** A reply is cut here (content, reasoning and tool calls), COMPLETED with finishReason LENGTH. */
    replyMaxChars: number;
    /** A reply still streaming after this long fails: a provider that never ends does not keep it STREAMING. */
    replyMaxMs: number;
    /** Replies of one viewer streaming at once on this instance; one more is refused (RATE_LIMITED). */
    streamingRepliesPerUser: number;
    /** Token budget of the prompt built from the conversation's context window. */
    contextMaxTokens: number;
    /** How long the numbered events of a finished generation stay replayable. */
    streamRetentionMs: number;
    /** On shutdown, how long running generations may take to finish before they are interrupted. */
    shutdownGraceMs: number;
    /** How untitled conversations are named after their first reply (conversations/titles.ts). */
    titles: 'model' | 'first-words' | 'off';
  };
};

export type ProviderEndpoint = { apiKey?: string; baseURL?: string; models: string[] };

export type ModelsConfig = {
  defaultModel?: string;
  echoDelayMs: number;
  openai?: ProviderEndpoint;
  anthropic?: ProviderEndpoint;
  /** Any OpenAI-compatible server (Ollama, vLLM, llama.cpp), under its own provider name. */
  compatible?: ProviderEndpoint & { name: string };
  /** Worker threads that read model replies; 0: read them on the main thread. */
  providerThreads: number;
  /** The most bytes one event of a vendor's answer may take (models/bounded-fetch.ts). */
  vendorEventMaxBytes: number;
};

/** The least any event of a vendor's answer may take, however small REPLY_MAX_CHARS is. */
export const MIN_VENDOR_EVENT_BYTES = 1 << 20;

export class ConfigError extends Error {}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return /^https?:$/.test(url.protocol) && url.origin === value.replace(/\/$/, '');
  } catch {
    return false;
  }
}

function isPostgresUrl(url: string): boolean {
  if (!/^postgres(ql)?:\/\//.test(url)) return false;
  try {
    return new URL(url).hostname !== '';
  } catch {
    return false;
  }
}

/** Throws ConfigError with one line naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set", as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const values = parsed.data;
  if (values.OPENAI_COMPATIBLE_BASE_URL && !values.OPENAI_COMPATIBLE_MODELS) {
    throw new ConfigError('Invalid configuration: OPENAI_COMPATIBLE_MODELS: list the models served at OPENAI_COMPATIBLE_BASE_URL');
  }
  if (values.NODE_ENV === 'production' && !values.AUTH_JWT_SECRET) {
    throw new ConfigError('Invalid configuration: AUTH_JWT_SECRET is required when NODE_ENV=production');
  }
  return {
    env: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    databaseUrl: values.DATABASE_URL,
    databasePoolSize: values.DATABASE_POOL_SIZE,
    databasePreparedStatements: values.DATABASE_PREPARED_STATEMENTS === 'true',
    databaseStatementTimeoutMs: values.DATABASE_STATEMENT_TIMEOUT_MS,
    redisUrl: values.REDIS_URL,
    jwtSecret: values.AUTH_JWT_SECRET,
    logLevel: values.LOG_LEVEL,
    maxMessageChars: values.MAX_MESSAGE_CHARS,
    maxBranchLanes: values.MAX_BRANCH_LANES,
    idempotencyTtlMs: values.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    rateLimits: {
      requestsPerMinute: values.RATE_LIMIT_REQUESTS_PER_MINUTE,
      requestBurst: values.RATE_LIMIT_REQUESTS_BURST,
      generationsPerMinute: values.RATE_LIMIT_GENERATIONS_PER_MINUTE,
      bytesPerDay: limitOfMegabytes(values.RATE_LIMIT_MB_PER_DAY),
      streamedBytesPerHour: limitOfMegabytes(values.RATE_LIMIT_STREAMED_MB_PER_HOUR),
    },
    storageBytesPerUser: limitOfMegabytes(values.STORAGE_MB_PER_USER),
    corsOrigins: (values.CORS_ORIGINS ?? []).map((origin) => origin.replace(/\/$/, '')),
    maxConnections: values.MAX_CONNECTIONS,
    maxUnsentBytes: Math.round(values.MAX_UNSENT_MB * 1024 * 1024),
    webSocketLimits: { subscriptionsPerSocket: values.WS_MAX_SUBSCRIPTIONS_PER_SOCKET, socketsPerUser: values.WS_MAX_SOCKETS_PER_USER },
    subscriptionCostPerUser: values.SUBSCRIPTION_COST_PER_USER,
    subscriptionCharsPerUser: values.SUBSCRIPTION_CHARS_PER_USER,
    graphiql: values.GRAPHIQL ? values.GRAPHIQL === 'true' : values.NODE_ENV !== 'production',
    metricsToken: values.METRICS_TOKEN,
    tracing: { endpoint: values.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: values.OTEL_SERVICE_NAME },
    persistedOperationsFile: values.PERSISTED_OPERATIONS,
    models: {
      defaultModel: values.DEFAULT_MODEL,
      echoDelayMs: values.ECHO_DELAY_MS,
      providerThreads: values.PROVIDER_THREADS,
      // A whole reply's text at the longest JSON spelling of each character (`\uXXXX`), and room for its envelope.
      vendorEventMaxBytes: Math.max(MIN_VENDOR_EVENT_BYTES, 6 * values.REPLY_MAX_CHARS + (64 << 10)),
      openai: values.OPENAI_API_KEY ? { apiKey: values.OPENAI_API_KEY, baseURL: values.OPENAI_BASE_URL, models: values.OPENAI_MODELS } : undefined,
      anthropic: values.ANTHROPIC_API_KEY
        ? { apiKey: values.ANTHROPIC_API_KEY, baseURL: values.ANTHROPIC_BASE_URL, models: values.ANTHROPIC_MODELS }
        : undefined,
      compatible: values.OPENAI_COMPATIBLE_BASE_URL
        ? {
            name: values.OPENAI_COMPATIBLE_NAME,
            baseURL: values.OPENAI_COMPATIBLE_BASE_URL,
            apiKey: values.OPENAI_COMPATIBLE_API_KEY,
            models: values.OPENAI_COMPATIBLE_MODELS ?? [],
          }
        : undefined,
    },
    generation: {
      providerTimeoutMs: values.PROVIDER_TIMEOUT_MS,
      replyMaxChars: values.REPLY_MAX_CHARS,
      replyMaxMs: values.REPLY_MAX_SECONDS * 1000,
      streamingRepliesPerUser: values.MAX_STREAMING_REPLIES_PER_USER,
      contextMaxTokens: values.CONTEXT_MAX_TOKENS,
      streamRetentionMs: values.STREAM_RETENTION_SECONDS * 1000,
      shutdownGraceMs: values.SHUTDOWN_GRACE_MS,
      titles: values.CONVERSATION_TITLES,
    },
  };
}

/** A limit in megabytes as bytes: 0 (none) stays 0, and a fraction too small for a byte is one, not none. */
const limitOfMegabytes = (megabytes: number) => (megabytes > 0 ? Math.max(1, Math.round(megabytes * 1024 * 1024)) : 0);
