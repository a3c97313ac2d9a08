// A TCP proxy a test can cut and restore: a dependency (Postgres) "down" without stopping the shared server.

import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Unreachable without a refusal (a black hole): connections stay open, nothing is forwarded either way. */
  stall(): void;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server;
  let stalled = false;
  const open = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        if (stalled) {
          sockets.add(client);
          client.on('close', () => sockets.delete(client));
          client.on('error', () => {});
          return;
        }
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const port = await open(0);
  const cut = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  };
  const stall = () => {
    stalled = true;
    for (const s of sockets) {
      s.pause();
      s.unpipe();
    }
  };
  return {
    port,
    cut,
    stall,
    restore: async () => {
      if (stalled) {
        // Still listening: drop the black-holed connections; new ones are forwarded again.
        stalled = false;
        for (const s of sockets) s.destroy();
        return;
      }
      await open(port);
    },
    close: cut,
  };
}
