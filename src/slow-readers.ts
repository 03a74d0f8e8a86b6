// What the server holds for clients that do not read. Node keeps every byte written to a socket until the
// client takes it, without limit or timeout: a client that asks for large responses (or floods a WebSocket
// with pings, each answered) on sockets it never reads grew one process past its heap in seconds. Every
// connection (HTTP, SSE, and the WebSockets upgraded from them) is looked at a few times a second; one
// further behind than a response can be is cut, and so are the furthest behind while all of them together
// hold more than the server allows.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from './logger.ts';

/** Unsent bytes one connection may hold: more than the largest response or event can be. */
const PER_CONNECTION = 32 * 1024 * 1024;
/** Often enough that a flood has no time to grow far between two looks; a look costs a few µs per thousand connections. */
const EVERY_MS = 200;

export type SlowReaders = { watch(server: Server): void; stop(): void };

/**
 * `total`: the unsent bytes all connections may hold together (MAX_UNSENT_MB); one connection may hold at
 * most 32 MiB of it.
 */
export function cutSlowReaders(log: Logger, total: number): SlowReaders {
  const perConnection = Math.min(PER_CONNECTION, total);
  const sockets = new Set<Socket>();
  // Responses to requests a client pipelined wait in their own buffers until the ones before them are sent.
  const waiting = new WeakMap<Socket, Set<ServerResponse>>();
  const unsent = (socket: Socket) => {
    let bytes = socket.writableLength;
    for (const response of waiting.get(socket) ?? []) if (!response.socket) bytes += response.writableLength;
    return bytes;
  };
  const cut = (socket: Socket, bytes: number, why: string) => {
    log.warn({ remoteAddress: socket.remoteAddress, unsentBytes: bytes }, why);
    socket.destroy();
    sockets.delete(socket);
  };
  const check = () => {
    let held = 0;
    const behind: [Socket, number][] = [];
    for (const socket of sockets) {
      const bytes = unsent(socket);
      if (bytes > perConnection) cut(socket, bytes, 'a connection that does not read its responses was cut');
      else if (bytes > 0) {
        held += bytes;
        behind.push([socket, bytes]);
      }
    }
    if (held <= total) return;
    // Furthest behind first, until what is left fits.
    for (const [socket, bytes] of behind.sort((a, b) => b[1] - a[1])) {
      if (held <= total) break;
      held -= bytes;
      cut(socket, bytes, 'connections that do not read their responses hold too much: the furthest behind was cut');
    }
  };
  const timer = setInterval(check, EVERY_MS).unref();
  return {
    watch(server) {
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (res.socket) return; // the first of its connection: written to the socket itself
        let responses = waiting.get(req.socket);
        if (!responses) waiting.set(req.socket, (responses = new Set()));
        responses.add(res);
        res.once('close', () => responses.delete(res));
      });
    },
    stop: () => clearInterval(timer),
  };
}
