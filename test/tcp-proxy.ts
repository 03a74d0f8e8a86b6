// A TCP proxy on a free loopback port in front of a real server (the machine's PostgreSQL, say), which a
// fault test can cut (every connection dropped, new ones refused), silence (connections kept open, nothing
// passed either way: a partition, or a host gone without a reset) and restore. The tests never stop the
// shared server itself.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type TcpProxy = { port: number; cut(): void; silence(): void; restore(): void; close(): Promise<void> };

type Link = { client: net.Socket; upstream: net.Socket };

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const links = new Set<Link>();
  let state: 'open' | 'cut' | 'silent' = 'open';
  const pass = ({ client, upstream }: Link) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const hold = ({ client, upstream }: Link) => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  };
  const server = net.createServer((client) => {
    if (state === 'cut') return void client.destroy();
    const link = { client, upstream: net.connect(target.port, target.host) };
    links.add(link);
    for (const socket of [client, link.upstream]) {
      open.add(socket);
      socket.on('close', () => (open.delete(socket), links.delete(link)));
      socket.on('error', () => {}); // a cut or a peer's reset: both sides are closed below
    }
    client.on('close', () => link.upstream.destroy());
    link.upstream.on('close', () => client.destroy());
    if (state === 'open') pass(link);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      state = 'cut';
      for (const socket of open) socket.destroy();
    },
    silence() {
      state = 'silent';
      for (const link of links) hold(link);
    },
    restore() {
      if (state === 'silent') for (const link of links) pass(link);
      state = 'open';
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
