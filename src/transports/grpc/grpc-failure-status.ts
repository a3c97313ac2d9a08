// gRPC listener edge: a failure of the decision path (not a denial) → the call status, for every gRPC
// service (ext_authz Check, RLS ShouldRateLimit). Pure: the services log; this only maps.

import { status as GrpcStatus } from '@grpc/grpc-js';
import { Overloaded, StoreUnavailable } from '../../errors.js';

export interface GrpcFailure {
  code: GrpcStatus;
  /** A fixed string: never request data, never key material. */
  details: string;
}

/**
 * StoreUnavailable → UNAVAILABLE, Overloaded → RESOURCE_EXHAUSTED: both a failed RPC, so Envoy's own
 * failure_mode_allow / failure_mode_deny decides. undefined: not a failure this maps (the caller's own).
 */
export function grpcFailureStatus(err: unknown): GrpcFailure | undefined {
  if (err instanceof StoreUnavailable)
    return { code: GrpcStatus.UNAVAILABLE, details: `${err.store} unavailable` };
  if (err instanceof Overloaded)
    return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'overloaded: too many decisions in flight' };
  return undefined;
}
