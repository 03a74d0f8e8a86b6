// What the server holds for clients that do not read. Node keeps every byte written to a socket until the
// client takes it, without limit or timeout: a client that asks for large responses (or floods a WebSocket
// with pings, each answered) on sockets it never reads grew one process past its heap in seconds. Every
// connection (HTTP, SSE, and the WebSockets upgraded from them) is looked at a few times a second; one
// further behind than a response can be is cut, and so are the furthest behind while all of them together
// hold more than the server allows.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from './logger.ts';

/** Unsent bytes one connection may hold: more than the largest response or event can be. */
const PER_CONNECTION = 32 * 1024 * 1024;
/** How often connections are looked at. */
const EVERY_MS = 200;

export type SlowReaders = { watch(server: Server): void; stop(): void };

/** `total`: the unsent bytes all connections may hold together (MAX_UNSENT_MB). */
export function cutSlowReaders(log: Logger, total: number): SlowReaders {
  const perConnection = Math.min(PER_CONNECTION, total);
  const sockets = new Set<Socket>();
  const cut = (socket: Socket, why: string) => {
    log.warn({ remoteAddress: socket.remoteAddress, unsentBytes: socket.writableLength }, why);
    socket.destroy();
    sockets.delete(socket);
  };
  const check = () => {
    let held = 0;
    for (const socket of sockets) {
      if (socket.writableLength > perConnection) cut(socket, 'a connection that does not read its responses was cut');
      else held += socket.writableLength;
    }
    if (held <= total) return;
    // Furthest behind first, until what is left fits.
    for (const socket of [...sockets].sort((a, b) => b.writableLength - a.writableLength)) {
      if (held <= total) break;
      held -= socket.writableLength;
      cut(socket, 'connections that do not read their responses hold too much: the furthest behind was cut');
    }
  };
  const timer = setInterval(check, EVERY_MS).unref();
  return {
    watch(server) {
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
    },
    stop: () => clearInterval(timer),
  };
}
