// What every resolver and service gets: the app's shared parts plus this request's viewer and loaders.
// A fresh object per HTTP request and per WebSocket subscription.
import type { PrismaClient } from './generated/prisma/client.ts';
import type { Authenticate, Viewer } from './auth.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { ModelRegistry } from './models/registry.ts';
import type { AppPubSub } from './pubsub.ts';
import { createLoaders, type Loaders } from './loaders.ts';
import type { ReadRows } from './row-reads.ts';
import type { EventLoaders } from './event-loaders.ts';
import type { GenerationEventLog } from './streams/event-log.ts';
import type { GenerationRunner } from './generation/runner.ts';
import type { RateLimiter, RequestUnits } from './rate-limit.ts';
import type { StorageQuota } from './storage-quota.ts';
import type { StopGeneration } from './services.ts';
import type { MessageFollowers } from './generation/stream.ts';
import type { Metrics } from './observability/metrics.ts';
import type { StoredValueReader } from './stored-values.ts';

/** Built once per process. */
export type AppServices = {
  config: Config;
  prisma: PrismaClient;
  readRows: ReadRows;
  pubsub: AppPubSub;
  models: ModelRegistry;
  log: Logger;
  authenticate: Authenticate;
  eventLog: GenerationEventLog;
  generation: GenerationRunner;
  rateLimiter: RateLimiter;
  /** What each viewer may keep stored (STORAGE_MB_PER_USER). */
  storageQuota: StorageQuota;
  stopGeneration: StopGeneration;
  followers: MessageFollowers;
  metrics: Metrics;
  /** Loaders shared by the subscribers of one event. */
  eventLoaders: EventLoaders;
};

export type ServiceContext = AppServices & { viewer: Viewer };
export type Context = ServiceContext & {
  loaders: Loaders;
  /** What this request has counted against the viewer's request limit so far (it counts in parts). */
  requestUnits: RequestUnits;
  /** The costly fields this request has resolved (each may be resolved once: schema/costly.ts); made when first needed. */
  costly: Set<string> | null;
  /** Set while a subscription's events resolve: costly fields are not resolved for every event. */
  inSubscriptionEvent: boolean;
  /** Bytes of stored text (contents, reasoning, system prompts, metadata, tools) this response holds so far, as JSON. */
  textBytes: number;
  /** Items of lists (pages, a context window) this response holds so far. */
  listItems: number;
  /** Lists this response has counted row by row (totalCount: schema/costly.ts). */
  counts: number;
  /** How this response reads stored values (schema/stored-fields.ts); made when first needed. */
  storedValues: StoredValueReader | null;
};

/**
 * Also a WebSocket operation's whole context (spread into a literal with the socket's fields): made with
 * every key at once, as an object that Object.assign grows by more than a dozen keys falls into V8's
 * dictionary mode, which costs each long-lived subscription about 1.5 KB more than a fast object.
 * `counted`: requests of the viewer's limit this request has counted already (its body's, at admission).
 */
export function createContext(services: AppServices, viewer: Viewer, counted = 0): Context {
  return {
    ...services,
    viewer,
    loaders: createLoaders(services, viewer),
    requestUnits: { taken: counted },
    costly: null,
    inSubscriptionEvent: false,
    textBytes: 0,
    listItems: 0,
    counts: 0,
    storedValues: null,
  };
}

/**
 * A subscription keeps one context for its whole life; each event must see current rows, not what an
 * earlier event cached. Called before an event's fields resolve, with the event as it was published
 * (or logged): its subscribers of one viewer share the loaders, so its rows are read once for them all.
 */
export function refreshLoaders(ctx: Context, event: object): void {
  ctx.loaders = ctx.eventLoaders.for(event, ctx.viewer);
  startEvent(ctx);
}

/** Each event of a subscription is a response of its own: what it carries is counted afresh. */
export function startEvent(ctx: Context): void {
  ctx.inSubscriptionEvent = true;
  ctx.textBytes = 0;
  ctx.listItems = 0;
  ctx.counts = 0;
  ctx.storedValues = null;
}

/** What a response counted so far, cleared for a query that is run again (compiled/queries.ts). */
export function restartResponse(ctx: Context): void {
  ctx.costly = null;
  ctx.textBytes = 0;
  ctx.listItems = 0;
  ctx.counts = 0;
  ctx.storedValues = null;
}
