// GraphQL over WebSocket (graphql-ws), wired the yoga way: each operation runs through the same envelop
// (plugins, context, masking) as HTTP, with the viewer its connection authenticated once. The limits of a
// connection live here: sockets per viewer, subscriptions per socket, a token's expiry; and what refuses one
// operation (a limit, bad input) answers it with errors and keeps the socket.
import { randomUUID } from 'node:crypto';
import { getOperationAST, type ExecutionArgs } from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { createContext, type AppServices } from './context.ts';
import type { GraphQLHandler } from './yoga.ts';
import type { Viewer } from './auth.ts';
import { runAt, type OpenConnections } from './connection-limits.ts';
import { badUserInput, isGraphQLError, rateLimitedError, withContractCode, withoutHttp } from './errors.ts';
import { errorCodes } from './observability/operations.ts';
import { withRequest } from './observability/request-context.ts';
import { closeUnread, GuardedWebSocket } from './guarded-websocket.ts';
import { persistedQueryFor, type PersistedOperations } from './persisted-operations.ts';

/** graphql-ws' close code for a client that asks too much of a server (its "too many initialisation requests"). */
const TOO_MANY = 4429;

type Extra = { socket: GuardedWebSocket; viewer?: Viewer; counted?: boolean; expiry?: NodeJS.Timeout };
/** What onSubscribe hands to execute/subscribe besides the arguments: the envelop's own, and the request id. */
type Root = { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown; requestId: string };

export type GraphQLWebSocketServer = { wsServer: WebSocketServer; dispose(): Promise<void> };

export function createGraphQLWebSocketServer(
  { yoga, services, persistedOperations, connections }: { yoga: GraphQLHandler; services: AppServices; persistedOperations: PersistedOperations | null; connections: OpenConnections },
  maxPayload: number,
): GraphQLWebSocketServer {
  const { config, metrics } = services;
  const { subscriptionsPerSocket } = config.webSocketLimits;
  const wsServer = new WebSocketServer({ noServer: true, maxPayload, WebSocket: GuardedWebSocket });

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
          await services.rateLimiter.request(viewer);
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
      onSubscribe: async (ctx, _id, params) => {
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
          if (isGraphQLError(error)) return [withContractCode(error)];
          if (contextValue !== undefined && document === undefined) return [badUserInput(`The document cannot be parsed: ${(error as Error).message}`)];
          throw error;
        }
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe, requestId: randomUUID() } satisfies Root,
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors.map(withContractCode);
        return args;
      },
      // Each operation is a request of its own: its log lines carry its id.
      execute: (args) => {
        const root = args.rootValue as Root;
        return withRequest({ requestId: root.requestId }, () => root.execute(args)) as never;
      },
      subscribe: (args) => {
        const root = args.rootValue as Root;
        return withRequest({ requestId: root.requestId }, () => root.subscribe(args)) as never;
      },
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
