// Environment → typed, validated configuration, read once. Nothing else reads process.env.
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const databaseUrl = z
  .string()
  .trim()
  .refine((url) => /^pglite:.+/.test(url) || isPostgresUrl(url), {
    message: 'expected pglite:<dir>, pglite:memory or postgresql://user@host:port/database',
  });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  DATABASE_URL: databaseUrl.default('pglite:./data/pglite'),
  AUTH_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  MAX_MESSAGE_CHARS: z.coerce.number().int().positive().default(100_000),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
});

export type Config = {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  databaseUrl: string;
  jwtSecret: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  maxMessageChars: number;
  idempotencyTtlMs: number;
};

export class ConfigError extends Error {}

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
  if (values.NODE_ENV === 'production' && !values.AUTH_JWT_SECRET) {
    throw new ConfigError('Invalid configuration: AUTH_JWT_SECRET is required when NODE_ENV=production');
  }
  return {
    env: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    databaseUrl: values.DATABASE_URL,
    jwtSecret: values.AUTH_JWT_SECRET,
    logLevel: values.LOG_LEVEL,
    maxMessageChars: values.MAX_MESSAGE_CHARS,
    idempotencyTtlMs: values.IDEMPOTENCY_TTL_HOURS * 3_600_000,
  };
}
