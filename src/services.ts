// Types only: the narrow dependencies each service takes. A resolver hands its request context, which has
// all of them; a service names just what it uses, so what it can touch is visible at its signature.
import type { PrismaClient } from './generated/prisma/client.ts';
import type { Viewer } from './auth.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { ModelRegistry } from './models/registry.ts';
import type { AppPubSub } from './pubsub.ts';
import type { RateLimiter, RequestUnits } from './rate-limit.ts';
import type { GenerationEventLog } from './streams/event-log.ts';
import type { GenerationRunner } from './generation/runner.ts';
import type { MessageFollowers } from './generation/stream.ts';

/** Who asks, and the database: every look-up that checks ownership. */
export type Access = { prisma: PrismaClient; viewer: Viewer };

/** Input limits and how long idempotency keys are remembered. */
export type InputLimits = { config: Pick<Config, 'maxMessageChars' | 'maxBranchLanes' | 'idempotencyTtlMs'> };

/**
 * Stops the running generation of a conversation wherever it runs and waits for its end. Features below
 * generation (deleting a conversation) get it handed in rather than importing the generation service.
 */
export type StopGeneration = (conversationId: string) => Promise<void>;

export type ConversationDeps = Access & InputLimits & { pubsub: AppPubSub; models: ModelRegistry; stopGeneration: StopGeneration };

export type MessageDeps = Access & InputLimits & { pubsub: AppPubSub; rateLimiter: Pick<RateLimiter, 'bytes'> };

export type ChatSessionDeps = Access & { pubsub: AppPubSub; models: ModelRegistry };

/** What stops a generation: the runner here, the other instances (pubsub) and, as a last resort, finishing it. */
export type GenerationStopDeps = { prisma: PrismaClient; pubsub: AppPubSub; eventLog: GenerationEventLog; generation: GenerationRunner; log: Logger };

export type GenerationDeps = MessageDeps &
  GenerationStopDeps & {
    models: ModelRegistry;
    rateLimiter: RateLimiter;
    config: Pick<Config, 'maxMessageChars' | 'idempotencyTtlMs' | 'generation'>;
    /** What the request has counted against the viewer's request limit so far (a GraphQL context's). */
    requestUnits?: RequestUnits;
  };

/** Following the numbered events of a message. */
export type StreamDeps = Access & { eventLog: GenerationEventLog; followers: MessageFollowers };
