// HTTP (GraphQL, health, metrics) and WebSocket upgrades on one port and path; start and graceful stop.
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { WebSocketServer } from 'ws';
import { isGraphQLError, SHUTTING_DOWN, withoutHttp } from './errors.ts';
import { createOriginPolicy, ORIGIN_REFUSED, type OriginPolicy } from './origins.ts';
import type { App } from './app.ts';
import { GRAPHQL_PATH, type ServerContext } from './yoga.ts';
import { atMostEvery } from './at-most-every.ts';
import { createAdmission } from './admission.ts';
import { createGraphQLWebSocketServer } from './websocket.ts';
import { loadWebApp } from './web-app.ts';
import { requestIdFrom, withRequest } from './observability/request-context.ts';
import { cutSlowReaders, type SlowReaders } from './slow-readers.ts';

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

/**
 * A connection that trickles its request is closed: its headers must come within 10 s, its whole request
 * within 30 s (a body of at most 2 MiB), checked every second. Node's defaults (60 s, 300 s, every 30 s)
 * let sockets that send nothing hold a file descriptor each for 90 s, and one client held all of them.
 */
const CONNECTION_TIMEOUTS: http.ServerOptions = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 };

/** Neither GraphiQL (GET, text/html) nor an answer is a page for another site to frame, or to be sniffed as another type. */
const GRAPHQL_HEADERS = { 'content-security-policy': "frame-ancestors 'none'", 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff' };

export async function startServer(app: App, { host, port }: { host: string; port: number }): Promise<RunningServer> {
  const { yoga, services } = app;
  const { config } = services;
  const origins = createOriginPolicy(config.corsOrigins, { loopbackOnly: !config.jwtSecret });
  let accepting = true;
  const webApp = loadWebApp();
  if (!webApp) services.log.warn('the web app is not built (npm run build): / serves nothing');
  const admit = createAdmission(services);
  // Without METRICS_TOKEN anyone may ask: the registry is then written out at most once a second.
  const registry = services.metrics.registry;
  const metricsText = config.metricsToken === undefined ? atMostEvery(1000, () => registry.metrics()) : () => registry.metrics();
  const handleRequest: http.RequestListener = (req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path === '/metrics' && req.method === 'GET') return void serveMetrics(req, res, metricsText, services.metrics.registry.contentType, config.metricsToken);
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
    // One id per request: returned to the client, and on every log line written while serving it.
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    if (path === GRAPHQL_PATH) for (const [name, value] of Object.entries(GRAPHQL_HEADERS)) res.setHeader(name, value);
    // A GraphQL request's sender is known and counted before its body is read (admission.ts); a page of
    // another origin is left to yoga, which refuses it before reading the body too.
    if (req.method === 'POST' && path === GRAPHQL_PATH && origins.allowsHost(req.headers.host) && origins.allows(req.headers.origin, req.headers.host)) {
      withRequest({ requestId }, () =>
        admit(req).then(
          (viewer) => yoga(req, res, { admitted: viewer } satisfies ServerContext),
          (error: unknown) => refuseAdmission(res, error, { req, origins, services }),
        ),
      );
      return;
    }
    // yoga would serve any path that ends in /graphql (or /graphql/) alike: only this one is GraphQL, so that
    // no POST reaches yoga without its admission above.
    if (path === GRAPHQL_PATH) return void withRequest({ requestId }, () => yoga(req, res));
    // Every other page a browser asks for is the web app's.
    const notFound = () => void res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
    if (webApp && (req.method === 'GET' || req.method === 'HEAD')) return webApp(req, res, notFound);
    notFound();
  };

  // WebSocket upgrades are taken from every listener below (noServer), on the GraphQL path only.
  const webSockets = createGraphQLWebSocketServer({ yoga, services, persistedOperations: app.persistedOperations, connections: app.connections }, MAX_BODY_BYTES);
  const wsServer = webSockets.wsServer;

  const slowReaders = cutSlowReaders(services.log, config.maxUnsentBytes);
  const servers = await listen(handleRequest, wsServer, { origins, slowReaders, maxConnections: config.maxConnections }, host, port).catch((error: unknown) => {
    slowReaders.stop();
    throw error;
  });
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
        await webSockets.dispose(); // completes subscriptions, closes sockets with 1001 (going away)
        slowReaders.stop();
        for (const server of servers) server.closeAllConnections();
        await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
      })()),
  };
}

/** Prometheus' text format; with METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`. */
function serveMetrics(req: http.IncomingMessage, res: http.ServerResponse, text: () => Promise<string>, contentType: string, token: string | undefined): void {
  if (token !== undefined && !sameSecret(req.headers.authorization ?? '', `Bearer ${token}`)) {
    res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('metrics need the METRICS_TOKEN\n');
    return;
  }
  text().then(
    (body) => res.writeHead(200, { 'content-type': contentType }).end(body),
    () => res.writeHead(500).end(),
  );
}

/** Compared in constant time, so a timing cannot tell how much of a guess was right. */
function sameSecret(given: string, expected: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A request its sender may not make (no valid token: 401; past the rate limit: 429 with Retry-After), as
 * yoga answers it: its content type, the error without its HTTP part, counted in the error metrics, and the
 * CORS headers a page of an allowed origin needs to read it.
 */
function refuseAdmission(res: http.ServerResponse, error: unknown, { req, origins, services }: { req: http.IncomingMessage; origins: OriginPolicy; services: App['services'] }): void {
  const cors = corsHeaders(req.headers.origin, origins);
  if (!isGraphQLError(error)) {
    services.log.error({ err: error }, 'unexpected error');
    services.metrics.errors(['INTERNAL_SERVER_ERROR']);
    return refuse(res, 500, { code: 'INTERNAL_SERVER_ERROR' }, 'Unexpected error.', cors);
  }
  const answer = error.extensions.http as { status?: number; headers?: Record<string, string> } | undefined;
  services.metrics.errors([String(error.extensions.code)]);
  const type = req.headers.accept?.includes(GRAPHQL_RESPONSE) ? `${GRAPHQL_RESPONSE}; charset=utf-8` : 'application/json; charset=utf-8';
  res.writeHead(answer?.status ?? 400, { 'content-type': type, ...cors, ...answer?.headers });
  res.end(JSON.stringify({ errors: [withoutHttp(error)] }));
}

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

/** What yoga's CORS settings (yoga.ts) answer a page of an allowed origin. */
function corsHeaders(origin: string | undefined, origins: OriginPolicy): http.OutgoingHttpHeaders {
  if (!origin) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin', ...(origins.anyOrigin ? {} : { 'access-control-allow-credentials': 'true' }) };
}

/** A GraphQL-shaped error, answered before the request reaches the GraphQL handler. */
function refuse(res: http.ServerResponse, status: number, extensions: { code: string; retryable?: boolean }, message: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ errors: [{ message, extensions }] }));
}

type Guards = { origins: OriginPolicy; slowReaders: SlowReaders; maxConnections: number };

/**
 * `localhost` means both loopback addresses: browsers may resolve it to ::1 and other clients to
 * 127.0.0.1, and a single listener would answer only one of them. Any other host: one listener.
 */
async function listen(handleRequest: http.RequestListener, wsServer: WebSocketServer, { origins, slowReaders, maxConnections }: Guards, host: string, port: number): Promise<http.Server[]> {
  const open = (address: string, onPort: number) =>
    new Promise<http.Server>((resolve, reject) => {
      const server = http.createServer(CONNECTION_TIMEOUTS, handleRequest);
      server.maxConnections = maxConnections;
      slowReaders.watch(server);
      server.on('upgrade', (req, socket, head) => {
        if (req.url?.split('?')[0] !== GRAPHQL_PATH) return void socket.destroy();
        if (!origins.allowsHost(req.headers.host) || !origins.allows(req.headers.origin, req.headers.host)) {
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
