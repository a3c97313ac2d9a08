// The gRPC listener on GRPC_PORT, as the composition root (app.ts) sees it: the lean node:http2 server
// (default) or the grpc-js one (GRPC_SERVER=grpc-js), serving the same per-method calls.

import { closeGrpcServer, createGrpcServer, listenGrpc, type GrpcServerDeps } from './grpc-server.js';
import { createLeanGrpcServer } from './lean/lean-grpc-server.js';

export type GrpcServerKind = 'lean' | 'grpc-js';

export interface GrpcListener {
  /** Binds plaintext and resolves with the bound port; port 0 picks one. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets in-flight calls finish; calls still open after `forceAfterMs` are cancelled. */
  close(forceAfterMs: number): Promise<void>;
}

export function createGrpcListener(kind: GrpcServerKind, deps: GrpcServerDeps): GrpcListener {
  if (kind === 'lean') return createLeanGrpcServer(deps);
  const server = createGrpcServer(deps);
  return {
    listen: (host, port) => listenGrpc(server, host, port),
    close: (forceAfterMs) => closeGrpcServer(server, forceAfterMs),
  };
}
