// HTTP + graphql-ws on one port and path; start and graceful stop.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import { isGraphQLError, rateLimitedError, SHUTTING_DOWN, withContractCode } from './errors.ts';
import { ownerKey } from './access.ts';
import { createOriginPolicy, ORIGIN_REFUSED, type OriginPolicy } from './origins.ts';
import type { App } from './app.ts';
import { GRAPHQL_PATH } from './yoga.ts';
import type { Viewer } from './auth.ts';

export type RunningServer = {
  url: string;
  port: number;
  /** Stops listening and answers 503 on open connections; subscriptions already open go on. */
  stopAccepting: () => void;
  /** Ends subscriptions (WebSockets close with 1001, going away) and every connection. */
  close: () => Promise<void>;
};

/** Requests bigger than this are refused before they are read (413). */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export async function startServer(app: App, { host, port }: { host: string; port: number }): Promise<RunningServer> {
  const { yoga, services } = app;
  const { config } = services;
  const origins = createOriginPolicy(config.corsOrigins);
  let accepting = true;
  const handleRequest: http.RequestListener = (req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path === '/ready') {
      app.readiness().then(
        (readiness) => res.writeHead(readiness.ready && accepting ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(readiness)),
        () => res.writeHead(503).end(),
      );
      return;
    }
    if (!accepting) return refuse(res, 503, { code: 'INTERNAL_SERVER_ERROR', retryable: true }, SHUTTING_DOWN, { connection: 'close', 'retry-after': '1' });
    // The body limit is checked against Content-Length before anything is read; a chunked body has none,
    // so it would be buffered whole unchecked: GraphQL clients always know their length, so ask for it.
    if (req.method === 'POST' && req.headers['content-length'] === undefined) {
      return refuse(res, 411, { code: 'BAD_USER_INPUT' }, 'Send a Content-Length with the request body', { connection: 'close' });
    }
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return refuse(res, 413, { code: 'BAD_USER_INPUT' }, 'Request body too large');
    yoga(req, res);
  };

  // WebSocket upgrades are taken from every listener below (noServer), on the GraphQL path only.
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  const { subscriptionsPerSocket, socketsPerUser } = config.webSocketLimits;
  const openSockets = new Map<string, number>(); // per viewer, on this instance
  type Extra = { viewer?: Viewer; counted?: string; expiry?: NodeJS.Timeout };
  const wsHandle = useServer<Record<string, unknown>, Extra>(
    {
      // Authenticate once per connection; a bad token closes it with 4403 (graphql-ws' Forbidden).
      onConnect: async (ctx) => {
        const extra = ctx.extra as Extra & { socket: WebSocket };
        let viewer: Viewer;
        try {
          viewer = await services.authenticate(authorizationOf(ctx.connectionParams));
        } catch {
          return false;
        }
        const key = ownerKey(viewer);
        const open = openSockets.get(key) ?? 0;
        if (open >= socketsPerUser) {
          extra.socket.close(TOO_MANY, `Too many open connections for this user (at most ${socketsPerUser})`);
          return false;
        }
        openSockets.set(key, open + 1);
        extra.counted = key;
        extra.viewer = viewer;
        // A connection lives no longer than its token: at `exp` it is closed as a bad token would be.
        if (viewer.expiresAt !== undefined) extra.expiry = closeAt(viewer.expiresAt, () => extra.socket.close(4403, 'The token has expired'));
        return true;
      },
      onClose: (ctx) => {
        const extra = ctx.extra as Extra;
        clearTimeout(extra.expiry);
        if (extra.counted === undefined) return;
        const left = (openSockets.get(extra.counted) ?? 1) - 1;
        if (left > 0) openSockets.set(extra.counted, left);
        else openSockets.delete(extra.counted);
        extra.counted = undefined;
      },
      // The yoga way: the same envelop (plugins, context, masking) as HTTP, with the connection's viewer.
      // What refuses one operation (a limit, bad input) answers it with errors and keeps the socket.
      onSubscribe: async (ctx, _id, params) => {
        // ctx.subscriptions already holds this one.
        if (Object.keys(ctx.subscriptions).length > subscriptionsPerSocket) {
          return [rateLimitedError(`Too many subscriptions on this connection (at most ${subscriptionsPerSocket})`)];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          viewer: (ctx.extra as Extra).viewer,
        });
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          return [withContractCode(error as GraphQLError)];
        }
        let contextValue;
        try {
          contextValue = await contextFactory(); // counts the operation against the viewer's rate limit
        } catch (error) {
          if (isGraphQLError(error)) return [withContractCode(error)];
          throw error;
        }
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors.map(withContractCode);
        return args;
      },
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
    },
    wsServer,
  );

  const servers = await listen(handleRequest, wsServer, origins, host, port);
  const { port: boundPort } = servers[0].address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | null = null;

  return {
    url: `http://${shownHost}:${boundPort}${GRAPHQL_PATH}`,
    port: boundPort,
    stopAccepting: () => {
      accepting = false;
      for (const server of servers) {
        server.close(); // no new connections; the callback would wait for the open ones
        server.closeIdleConnections();
      }
    },
    close: () =>
      (closed ??= (async () => {
        accepting = false;
        // Subscriptions that have just ended send their `complete` in the callbacks queued now: let them go
        // out before the sockets close, so a retrying client does not repeat what has finished.
        await new Promise((resolve) => setImmediate(resolve));
        await wsHandle.dispose(); // completes subscriptions, closes sockets with 1001 (going away)
        await new Promise<void>((resolve) => wsServer.close(() => resolve()));
        for (const server of servers) server.closeAllConnections();
        await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
      })()),
  };
}

/** graphql-ws' close code for a client that asks too much of a server (its "too many initialisation requests"). */
const TOO_MANY = 4429;

/** Runs `action` at `time` (epoch ms), however far away: timers hold at most about 24 days. */
function closeAt(time: number, action: () => void): NodeJS.Timeout {
  const wait = time - Date.now();
  return setTimeout(() => (Date.now() >= time ? action() : closeAt(time, action)), Math.max(0, Math.min(wait, 2 ** 31 - 1)));
}

/** A GraphQL-shaped error, answered before the request reaches the GraphQL handler. */
function refuse(res: http.ServerResponse, status: number, extensions: { code: string; retryable?: boolean }, message: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ errors: [{ message, extensions }] }));
}

/** graphql-ws clients send `{ authorization: "Bearer <JWT>" }` as connection params. */
function authorizationOf(params: Record<string, unknown> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === 'string' ? value : undefined;
}

/**
 * `localhost` means both loopback addresses: browsers may resolve it to ::1 and other clients to
 * 127.0.0.1, and a single listener would answer only one of them. Any other host: one listener.
 */
async function listen(handleRequest: http.RequestListener, wsServer: WebSocketServer, origins: OriginPolicy, host: string, port: number): Promise<http.Server[]> {
  const open = (address: string, onPort: number) =>
    new Promise<http.Server>((resolve, reject) => {
      const server = http.createServer(handleRequest);
      server.on('upgrade', (req, socket, head) => {
        if (req.url?.split('?')[0] !== GRAPHQL_PATH) return void socket.destroy();
        if (!origins.allows(req.headers.origin, req.headers.host)) {
          socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${ORIGIN_REFUSED}`);
          return;
        }
        wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
      });
      server.once('error', reject);
      server.listen(onPort, address, () => resolve(server));
    });
  if (host !== 'localhost') return [await open(host, port)];
  const first = await open('127.0.0.1', port);
  const { port: boundPort } = first.address() as AddressInfo;
  // The same port on ::1; a machine without IPv6 loopback makes do with the first.
  const second = await open('::1', boundPort).catch(() => null);
  return second ? [first, second] : [first];
}
