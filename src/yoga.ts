// The GraphQL-over-HTTP handler (queries, mutations, SSE subscriptions, GraphiQL). Never listens itself.
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { NoSchemaIntrospectionCustomRule, type GraphQLError } from 'graphql';
import { schema } from './schema/index.ts';
import { createContext, restartResponse, type AppServices, type Context } from './context.ts';
import { maskError, withContractCode } from './errors.ts';
import { createCompiledOperations } from './compiled/cache.ts';
import { useCompiledQueries } from './compiled/queries.ts';
import { useSqlPages } from './sql-pages/plugin.ts';
import { useCompiledSubscriptionEvents } from './compiled/subscription-events.ts';
import { useInputGuard } from './input-guard.ts';
import { parserCaches } from './parser-caches.ts';
import { useOperationLimits } from './operation-limits.ts';
import { hasKeptResult } from './idempotency.ts';
import { useOperationCost } from './operation-cost.ts';
import { SubscriptionCosts, useSseLimits, type OpenConnections } from './connection-limits.ts';
import { SubscriptionTexts, useSubscriptionTexts } from './subscription-texts.ts';
import { useEndWhenClientGone } from './client-gone.ts';
import { createOriginPolicy, ORIGIN_REFUSED, type OriginPolicy } from './origins.ts';
import type { Viewer } from './auth.ts';
import { useErrorMetrics, useOperationObservation } from './observability/operations.ts';
import { usePersistedOperationsOnly, type PersistedOperations } from './persisted-operations.ts';
import { requestsForBody } from './admission.ts';

/**
 * `viewer`: set by the WebSocket server, which authenticates once per connection and hands over a whole
 * context with this viewer (src/websocket.ts): the context factory then only counts the operation against
 * the rate limit.
 */
export type ServerContext = {
  viewer?: Viewer;
  /** The WebSocket an operation came on: what its messages' sizes were charged since the last operation. */
  socket?: { takeMetered(): number };
  /** Set by the HTTP server, which authenticated the request and counted it before reading its body (admission.ts). */
  admitted?: Viewer;
};

export const GRAPHQL_PATH = '/graphql';

export type HandlerOptions = {
  /** More plugins (tracing), run before the checks (after the compiled execution, which they wrap). */
  plugins?: Plugin[];
  /** Plugins that wrap the function running each operation (tracing's span around it), after every plugin that replaces it. */
  aroundOperations?: Plugin[];
  /** Long-lived connections per viewer: subscriptions over SSE count as one each. */
  sseConnections?: OpenConnections;
  /** Only these operations run, when given (PERSISTED_OPERATIONS). */
  persistedOperations?: PersistedOperations | null;
  /** GraphiQL's page, when it is on (loadGraphiQL). */
  renderGraphiQL?: (options?: GraphiQLOptions) => string;
};

type GraphiQLOptions = Parameters<typeof import('@graphql-yoga/render-graphiql').renderGraphiQL>[0];

/**
 * GraphiQL's scripts and styles, inlined (no CDN: it works offline), weigh some 40 MB once loaded: only
 * when it is on.
 */
export async function loadGraphiQL(on: boolean): Promise<HandlerOptions['renderGraphiQL']> {
  return on ? (await import('@graphql-yoga/render-graphiql')).renderGraphiQL : undefined;
}

export function createGraphQLHandler(services: AppServices, { plugins = [], aroundOperations = [], persistedOperations = null, renderGraphiQL, sseConnections }: HandlerOptions = {}) {
  const { log, config, metrics } = services;
  const origins = createOriginPolicy(config.corsOrigins, { loopbackOnly: !config.jwtSecret });
  const compiledOperations = createCompiledOperations();
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // The server refuses a body over its limit or without a length before yoga sees it (src/server.ts),
    // and Node reads no more than the length: yoga's own limit would only pipe every body through a
    // byte-counting stream (some 3% of a page's CPU).
    maxRequestBodySize: false,
    parserAndValidationCache: parserCaches(),
    // Off in production unless GRAPHIQL=true, with introspection (useIntrospection below).
    graphiql: renderGraphiQL ? { title: 'Chat GraphQL API', subscriptionsProtocol: 'WS' } : false,
    renderGraphiQL,
    // Cross-origin pages get CORS headers only when CORS_ORIGINS allows them (useOriginPolicy refuses the rest).
    cors: (request) => {
      const origin = request.headers.get('origin');
      if (!origin || !origins.allows(origin, new URL(request.url).host)) return false;
      return { origin: [origin], credentials: !origins.anyOrigin, methods: ['GET', 'POST', 'OPTIONS'] };
    },
    context: async (initial: YogaInitialContext & ServerContext) => {
      // Each HTTP request, and each operation over a WebSocket, counts against the viewer's rate limit.
      if (initial.viewer) {
        const context = initial as unknown as Context; // whole already: nothing to add
        // With what its message's size was charged as it came (websocket.ts), as one request.
        context.requestUnits.taken = initial.socket?.takeMetered() ?? 0;
        await services.rateLimiter.request(context.viewer, 1, context.requestUnits);
        return context;
      }
      if (initial.admitted) {
        const counted = requestsForBody(Number(initial.request.headers.get('content-length') ?? 0)); // at admission, as here
        return createContext(services, initial.admitted, counted);
      }
      const who = await services.authenticate(initial.request.headers.get('authorization'));
      await services.rateLimiter.request(who);
      return createContext(services, who, 1);
    },
    maskedErrors: {
      maskError(error, message) {
        const masked = maskError(error, message);
        if (masked.extensions.code === 'INTERNAL_SERVER_ERROR') {
          log.error({ err: (error as GraphQLError).originalError ?? error }, 'unexpected error');
        }
        return masked;
      },
    },
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      // Request errors are the client's and unexpected ones are logged by maskError: keep these quiet.
      error: (...args) => log.debug(args.map(String).join(' ')),
    },
    plugins: [
      // First, so that the plugins after it (tracing's) wrap the compiled execution too.
      useCompiledQueries(compiledOperations, (context) => restartResponse(context as Context)),
      useSqlPages(), // after: it falls back on the compiled query
      ...plugins,
      useOriginPolicy(origins),
      ...(persistedOperations ? [usePersistedOperationsOnly(persistedOperations)] : []),
      useOperationObservation(metrics, log),
      useErrorMetrics(metrics),
      ...(config.graphiql ? [] : [useNoIntrospection()]),
      useContractErrorCodes(),
      useInputGuard(),
      useOperationLimits(services.rateLimiter, services.storageQuota, hasKeptResult(services.prisma, services.config.idempotencyTtlMs)),
      useCompiledSubscriptionEvents(compiledOperations), // (replaces the subscribe function, dropping what wrapped it)
      ...aroundOperations,
      // The holds of a subscription last (src/subscription-hold.ts).
      useOperationCost(new SubscriptionCosts(config.subscriptionCostPerUser, services.rateLimiter)),
      useSubscriptionTexts(new SubscriptionTexts(config.subscriptionCharsPerUser)),
      ...(sseConnections ? [useSseLimits(sseConnections)] : []),
      useEndWhenClientGone(), // after the holds: ending their stream gives back what they hold
      // Limits on what one document may ask for: nesting, aliases, directives, size (its cost: useOperationCost).
      EnvelopArmorPlugin({
        maxDepth: { n: 12, ignoreIntrospection: true },
        maxAliases: { n: 30 },
        maxDirectives: { n: 30 },
        maxTokens: { n: 5000 },
        // What an operation costs depends on its variables: counted when it runs (useOperationCost).
        costLimit: { enabled: false },
        blockFieldSuggestion: { enabled: config.env === 'production' },
      }),
    ],
  });
}

export type GraphQLHandler = ReturnType<typeof createGraphQLHandler>;

/** Without GraphiQL (production), the schema is not handed out either. */
function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** A request from a browser page of an origin that may not use the API is refused before anything runs. */
function useOriginPolicy(origins: OriginPolicy): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const host = new URL(request.url).host;
      if (origins.allowsHost(host) && origins.allows(request.headers.get('origin'), host)) return;
      const body = { errors: [{ message: ORIGIN_REFUSED, extensions: { code: 'FORBIDDEN' } }] };
      endResponse(new fetchAPI.Response(JSON.stringify(body), { status: 403, headers: { 'content-type': 'application/json' } }));
    },
  };
}

/** Request errors that never reach maskError (syntax, validation) still leave with a contract code. */
function useContractErrorCodes(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Symbol.asyncIterator in result) return; // subscription events come out of execution: already masked
      const results = Array.isArray(result) ? result : [result];
      if (!results.some((r) => r.errors?.length)) return;
      const mapped = results.map((r) => (r.errors?.length ? { ...r, errors: r.errors.map((e) => withContractCode(e as GraphQLError)) } : r));
      setResult(Array.isArray(result) ? mapped : mapped[0]);
    },
  };
}
