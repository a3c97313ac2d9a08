// Both gRPC servers the app can run on GRPC_PORT (GRPC_SERVER), for suites that run against each.

import type { CheckAccess } from '../../src/access/check-access.js';
import type { GrpcServerDeps } from '../../src/transports/grpc/grpc-server.js';
import {
  createGrpcListener,
  type GrpcListener,
  type GrpcServerKind,
} from '../../src/transports/grpc/grpc-listener.js';

export const GRPC_SERVERS: readonly GrpcServerKind[] = ['lean', 'grpc-js'];

/** For servers under test that only serve RLS or health: a Check reaching it is a test bug. */
export const NO_CHECK: CheckAccess = async () => {
  throw new Error('Check is not part of this test');
};

/** A listener of `kind` on 127.0.0.1, port 0. */
export async function startGrpcListener(
  kind: GrpcServerKind,
  deps: GrpcServerDeps,
): Promise<{ listener: GrpcListener; port: number }> {
  const listener = createGrpcListener(kind, deps);
  return { listener, port: await listener.listen('127.0.0.1', 0) };
}
