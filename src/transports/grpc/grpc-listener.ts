// The gRPC listener on GRPC_PORT, as the composition root (app.ts) sees it: the lean node:http2 server
// (default) or the grpc-js one (GRPC_SERVER=grpc-js), serving the same per-method calls.

import { closeGrpcServer, createGrpcServer, listenGrpc, type GrpcServerDeps } from './grpc-server.js';
import { createLeanGrpcServer } from './lean/lean-grpc-server.js';

import type { GrpcListener } from './grpc-call.js';

export type { GrpcListener } from './grpc-call.js';
export type GrpcServerKind = 'lean' | 'grpc-js';

export function createGrpcListener(kind: GrpcServerKind, deps: GrpcServerDeps): GrpcListener {
  if (kind === 'lean') return createLeanGrpcServer(deps);
  const server = createGrpcServer(deps);
  return {
    listen: (host, port) => listenGrpc(server, host, port),
    close: (forceAfterMs) => closeGrpcServer(server, forceAfterMs),
  };
}
