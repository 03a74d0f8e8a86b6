// The HTTP server under the fake LLM vendors: a free loopback port, each request's JSON body read for the
// handler, and a close that drops open connections (a hung reply would otherwise hold the server open).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type VendorServer = { baseURL: string; close(): Promise<void> };

export async function startVendorServer(handle: (req: http.IncomingMessage, res: http.ServerResponse, body: any) => Promise<void>): Promise<VendorServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    await handle(req, res, JSON.parse(raw));
  });
  server.on('connection', (socket) => (sockets.add(socket), socket.on('close', () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
