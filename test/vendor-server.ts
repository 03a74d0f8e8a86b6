// The HTTP server under the fake LLM vendors: a free loopback port, each request recorded with its JSON
// body and headers, and a close that drops open connections (a hung reply would otherwise hold it open).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type VendorRequest = {
  body: any;
  headers: http.IncomingHttpHeaders;
  /** Resolves true when the client closed the connection before the reply was complete. */
  abortedByClient: Promise<boolean>;
};

export type VendorServer = { baseURL: string; requests: VendorRequest[]; close(): Promise<void> };

export async function startVendorServer(handle: (req: http.IncomingMessage, res: http.ServerResponse, body: any) => Promise<void>): Promise<VendorServer> {
  const sockets = new Set<Socket>();
  const requests: VendorRequest[] = [];
  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw);
    const abortedByClient = new Promise<boolean>((resolve) => res.on('close', () => resolve(!res.writableFinished)));
    requests.push({ body, headers: req.headers, abortedByClient });
    await handle(req, res, body);
  });
  server.on('connection', (socket) => (sockets.add(socket), socket.on('close', () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
