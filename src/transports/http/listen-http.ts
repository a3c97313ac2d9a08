// Binding and draining a node:http server, returning the bound port (port 0 picks a free one).

import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Open connections per server, so a drain can tell in-flight keep-alive answers to close. */
const connections = new WeakMap<Server, Set<Socket>>();
/** How often a closing server closes connections that went idle after their last answer. */
const IDLE_SWEEP_MS = 50;
/** A connection accepted just before the close may still have its first request in flight. */
const IDLE_GRACE_MS = 200;

export function listenHttp(server: Server, host: string, port: number): Promise<number> {
  if (!connections.has(server)) {
    const open = new Set<Socket>();
    connections.set(server, open);
    server.on('connection', (socket: Socket) => {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    });
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

const refusing = new WeakSet<Server>();

/**
 * Every answer from now on, in flight or new, says `connection: close`, so clients stop reusing
 * pooled sockets. Called when draining starts: by the time the listener closes, busy connections
 * have been closed after an answer instead of under a client's next request.
 */
export function refuseKeepAlive(server: Server): void {
  if (refusing.has(server)) return;
  refusing.add(server);
  server.prependListener('request', (_req, res) => (res.shouldKeepAlive = false));
  for (const socket of connections.get(server) ?? []) {
    const inFlight = (socket as { _httpMessage?: { headersSent: boolean; shouldKeepAlive: boolean } })
      ._httpMessage;
    if (inFlight && !inFlight.headersSent) inFlight.shouldKeepAlive = false;
  }
}

/**
 * Stops accepting and lets in-flight requests finish (answered with `connection: close`); idle
 * sockets are closed after a short grace and as they appear; whatever is still open after
 * `forceAfterMs` is cut.
 */
export function closeHttpServer(server: Server, forceAfterMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    refuseKeepAlive(server);
    let sweep: NodeJS.Timeout | undefined;
    const grace = setTimeout(() => {
      server.closeIdleConnections();
      sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    }, IDLE_GRACE_MS);
    const force = setTimeout(() => server.closeAllConnections(), forceAfterMs);
    // node's close() also drops every connection without a request at once, including one accepted
    // a moment ago whose first request is on its way (the client would see a reset): not yet.
    const closeIdle = server.closeIdleConnections;
    server.closeIdleConnections = () => undefined;
    server.close(() => {
      clearTimeout(grace);
      clearInterval(sweep);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections = closeIdle;
  });
}
