// GraphQL over WebSocket (graphql-ws), wired the yoga way: each operation runs through the same envelop
// (plugins, context, masking) as HTTP, with the viewer its connection authenticated once. The limits of a
// connection live here: sockets per viewer, subscriptions per socket, a token's expiry; and what refuses one
// operation (a limit, bad input) answers it with errors and keeps the socket.
import { randomUUID } from 'node:crypto';
import { getOperationAST, type ExecutionArgs, type GraphQLError } from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer, type Extra as SocketExtra } from 'graphql-ws/use/ws';
import type { Context, SubscribePayload } from 'graphql-ws';
import { createContext, type AppServices } from './context.ts';
import type { GraphQLHandler } from './yoga.ts';
import type { Viewer } from './auth.ts';
import { runAt, type OpenConnections } from './connection-limits.ts';
import { badUserInput, isGraphQLError, rateLimitedError, withContractCode, withoutHttp } from './errors.ts';
import { errorCodes } from './observability/operations.ts';
import { withRequest } from './observability/request-context.ts';
import { closeUnread, GuardedWebSocket, TOO_MANY } from './guarded-websocket.ts';
import { requestsForBody } from './admission.ts';
import { persistedQueryFor, type PersistedOperations } from './persisted-operations.ts';

/** graphql-ws' close code for a subscribe whose id is in use. */
const SUBSCRIBER_EXISTS = 4409;

/** `settingUp`: ids of the socket's operations between their subscribe message and their start. */
type Extra = { socket: GuardedWebSocket; viewer?: Viewer; counted?: boolean; expiry?: NodeJS.Timeout; settingUp?: Set<string> };
/**
 * What onSubscribe hands to execute/subscribe besides the arguments: the envelop's own, the request id, and
 * `setUp`, called once the operation has started (or failed to).
 */
type Root = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown; requestId: string; setUp: () => void };

export type GraphQLWebSocketServer = { wsServer: WebSocketServer; dispose(): Promise<void> };

export function createGraphQLWebSocketServer(
  { yoga, services, persistedOperations, connections }: { yoga: GraphQLHandler; services: AppServices; persistedOperations: PersistedOperations | null; connections: OpenConnections },
  maxPayload: number,
): GraphQLWebSocketServer {
  const { config, metrics } = services;
  const { subscriptionsPerSocket } = config.webSocketLimits;
  const wsServer = new WebSocketServer({ noServer: true, maxPayload, WebSocket: GuardedWebSocket });

  /** The operation's arguments to run (`setUp` called once it has started), or the errors it is refused with (a limit, bad input). */
  async function prepareOperation(ctx: Context<Record<string, unknown>, SocketExtra & Extra>, params: SubscribePayload, setUp: () => void): Promise<ExecutionArgs | GraphQLError[]> {
    // ctx.subscriptions already holds this one.
    if (Object.keys(ctx.subscriptions).length > subscriptionsPerSocket) {
      return [rateLimitedError(`Too many subscriptions on this connection (at most ${subscriptionsPerSocket})`)];
    }
    const viewer = ctx.extra.viewer!; // onConnect set it before any subscribe
    const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped(
      { ...createContext(services, viewer), req: ctx.extra.request, socket: ctx.extra.socket, params },
    );
    let document;
    let contextValue;
    try {
      // Counted against the viewer's rate limit first: parsing a large document is work too.
      contextValue = await contextFactory();
      document = parse(persistedOperations ? persistedQueryFor(persistedOperations, params) : params.query);
      if (!getOperationAST(document, params.operationName)) return [badUserInput('The document has no operation of that name, or several and no operationName')];
    } catch (error) {
      if (isGraphQLError(error)) {
        // Past its rate limit (the one error counting it may raise): told when to come back, and held to it.
        const retryAfter = Number(error.extensions.retryAfter);
        if (contextValue === undefined && retryAfter > 0) ctx.extra.socket.refusedUntil = Date.now() + retryAfter * 1000;
        return [withContractCode(error)];
      }
      if (contextValue !== undefined && document === undefined) return [badUserInput(`The document cannot be parsed: ${(error as Error).message}`)];
      throw error;
    }
    const args: ExecutionArgs = {
      schema,
      operationName: params.operationName,
      document,
      variableValues: params.variables,
      contextValue,
      rootValue: { execute, subscribe, requestId: randomUUID(), setUp } satisfies Root,
    };
    const errors = validate(args.schema, args.document);
    if (errors.length) return errors.map(withContractCode);
    return args;
  }

  /** Runs an operation as a request of its own (its log lines carry its id); it has started once this settles. */
  async function started(args: ExecutionArgs, run: (root: Root) => unknown): Promise<never> {
    const root = args.rootValue as Root;
    try {
      return (await withRequest({ requestId: root.requestId }, () => run(root))) as never;
    } finally {
      root.setUp();
    }
  }

  const handle = useServer<Record<string, unknown>, Extra>(
    {
      // Authenticate once per connection; a bad token closes it with 4403 (graphql-ws' Forbidden).
      onConnect: async (ctx) => {
        const extra = ctx.extra;
        let viewer: Viewer;
        try {
          viewer = await services.authenticate(authorizationOf(ctx.connectionParams));
        } catch {
          return false;
        }
        // Closed while its token was checked: onClose has run already, so nothing may be counted for it now.
        if (extra.socket.readyState !== extra.socket.OPEN) return false;
        if (!connections.open(viewer)) {
          extra.socket.close(TOO_MANY, connections.tooMany().message);
          return false;
        }
        metrics.socketOpened();
        extra.counted = true;
        extra.viewer = viewer;
        extra.socket.authenticated = true;
        // Each operation counts as a request (yoga.ts), and each 64 KiB of its message once more, as a POST's
        // body does: charged as the message comes, before it is parsed, and judged with the operation's own
        // request as one (a message larger than the burst passes as a small one would). One that puts the viewer
        // past their limit closes the socket (whatever it was: a pong is refused by nothing else); one that
        // counts as more than a minute's requests could never pass: it closes the socket unread.
        const perMinute = config.rateLimits.requestsPerMinute;
        extra.socket.meter = (bytes) => {
          const more = requestsForBody(bytes) - 1;
          if (more === 0) return true;
          if (perMinute > 0 && more + 1 > perMinute) {
            closeUnread(extra.socket, TOO_MANY, `A message of ${bytes} bytes counts as ${more + 1} requests, more than the ${perMinute} a minute allows`);
            return false;
          }
          extra.socket.metered += more;
          // Past the limit: closed, whatever the message was (an operation would be refused; a pong is not).
          services.rateLimiter.charge(viewer, more).then(
            (within) => within || closeUnread(extra.socket, TOO_MANY, 'Too many requests'),
            () => {},
          );
          return true;
        };
        // A connection lives no longer than its token: at `exp` it is closed as a bad token would be.
        if (viewer.expiresAt !== undefined) extra.expiry = runAt(viewer.expiresAt, () => extra.socket.close(4403, 'The token has expired'));
        return true;
      },
      // Each ping is answered with a pong, which waits in memory until the client reads it: pings count
      // against the viewer's rate limit (a flood of them on a socket that was never read grew the process
      // past its heap), and one before `connection_init` closes the socket, as a subscribe would.
      onPing: async (ctx) => {
        if (!ctx.connectionInitReceived) return closeUnread(ctx.extra.socket, 4401, 'Unauthorized');
        const viewer = ctx.extra.viewer;
        if (!viewer) return; // its token is being checked
        try {
          await services.rateLimiter.request(viewer, 1, { taken: ctx.extra.socket.takeMetered() });
        } catch {
          closeUnread(ctx.extra.socket, TOO_MANY, 'Too many pings');
        }
      },
      onClose: (ctx) => {
        const extra = ctx.extra;
        clearTimeout(extra.expiry);
        if (!extra.counted || !extra.viewer) return;
        connections.close(extra.viewer);
        extra.counted = false;
        metrics.socketClosed();
      },
      // An id the client completes and subscribes again while its first operation is still being set up (the
      // three messages sent at once): graphql-ws would start both and track only the second, so the first would
      // run on untracked, past the socket's limit and its close, holding its shares for good. Such a client is
      // closed, as graphql-ws closes one that reuses an id in use (4409).
      onSubscribe: async (ctx, id, params) => {
        const settingUp = (ctx.extra.settingUp ??= new Set());
        if (settingUp.has(id)) {
          closeUnread(ctx.extra.socket, SUBSCRIBER_EXISTS, 'Subscriber already exists: its id is still being set up');
          return [badUserInput('This id is still in use')];
        }
        settingUp.add(id);
        const setUp = () => settingUp.delete(id);
        const prepared = await prepareOperation(ctx, params, setUp).catch((error: unknown) => {
          setUp();
          throw error;
        });
        if (Array.isArray(prepared)) setUp(); // refused: nothing starts
        return prepared;
      },
      execute: (args) => started(args, (root) => root.execute(args)),
      subscribe: (args) => started(args, (root) => root.subscribe(args)),
      // Every error a client is sent, refused operations included, passes one of these two; an error's
      // HTTP status and headers are left out, as yoga leaves them out of its HTTP responses.
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!('errors' in result && result.errors)) return;
        metrics.errors(errorCodes(result as never));
        if (result.errors.some((error) => error.extensions?.http)) return { ...result, errors: result.errors.map(withoutHttp) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        metrics.errors(errors.map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR')));
        return errors.map(withoutHttp);
      },
    },
    wsServer,
  );

  return {
    wsServer,
    async dispose() {
      await handle.dispose(); // completes subscriptions, closes sockets with 1001 (going away)
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

/** graphql-ws clients send `{ authorization: "Bearer <JWT>" }` as connection params. */
function authorizationOf(params: Record<string, unknown> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === 'string' ? value : undefined;
}
