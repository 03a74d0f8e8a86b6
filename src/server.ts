// HTTP + graphql-ws on one port and path; start and graceful stop.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import { SHUTTING_DOWN, withContractCode } from './errors.ts';
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
  type Extra = { viewer?: Viewer };
  const wsHandle = useServer<Record<string, unknown>, Extra>(
    {
      // Authenticate once per connection; a bad token closes it with 4403 (graphql-ws' Forbidden).
      onConnect: async (ctx) => {
        try {
          (ctx.extra as Extra).viewer = await services.authenticate(authorizationOf(ctx.connectionParams));
          return true;
        } catch {
          return false;
        }
      },
      // The yoga way: the same envelop (plugins, context, masking) as HTTP, with the connection's viewer.
      onSubscribe: async (ctx, _id, params) => {
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
        const args: ExecutionArgs = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
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

  const servers = await listen(handleRequest, wsServer, host, port);
  const { port: boundPort } = servers[0].address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;

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
    close: async () => {
      accepting = false;
      await wsHandle.dispose(); // completes subscriptions, closes sockets with 1001 (going away)
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
    },
  };
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
async function listen(handleRequest: http.RequestListener, wsServer: WebSocketServer, host: string, port: number): Promise<http.Server[]> {
  const open = (address: string, onPort: number) =>
    new Promise<http.Server>((resolve, reject) => {
      const server = http.createServer(handleRequest);
      server.on('upgrade', (req, socket, head) => {
        if (req.url?.split('?')[0] !== GRAPHQL_PATH) return void socket.destroy();
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
