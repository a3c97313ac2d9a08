// gRPC ext_authz: envoy.service.auth.v3.Authorization/Check — wire request → CheckAccess → wire answer.
// The one place where failures map to gRPC statuses for this service.

import { status as GrpcStatus } from '@grpc/grpc-js';
import type { AccessRequest } from '../../access/access-request.js';
import type { CheckAccess } from '../../access/check-access.js';
import type { Decision } from '../../access/decision.js';
import { InputError } from '../../errors.js';
import type { CheckResponse } from '../../generated/envoy/service/auth/v3/external_auth.js';
import type { Logger } from '../../logger.js';
import { accessRequestFromCheck, type CheckFields } from './access-request-from-check.js';
import { checkResponseFromDecision } from './check-response-from-decision.js';
import type { GrpcError, UnaryCall } from './grpc-call.js';
import { grpcFailureStatus } from './grpc-failure-status.js';

export interface ExtAuthzDeps {
  checkAccess: CheckAccess;
  logger?: Logger;
}

export type CheckCall<Answer = CheckResponse> = UnaryCall<CheckFields, Answer>;

/**
 * How a server answers a decision: grpc-js serializes the CheckResponse message
 * (checkResponseFromDecision, the default); the lean server writes its bytes at once (encode-check-answer.ts).
 */
export type CheckAnswer<Answer> = (decision: Decision, request: AccessRequest) => Answer;

/** Check, called by both gRPC servers (grpc-server.ts, lean/lean-grpc-server.ts); rejects with a GrpcError. */
export function createExtAuthz<Answer>(deps: ExtAuthzDeps, answer: CheckAnswer<Answer>): CheckCall<Answer>;
export function createExtAuthz(deps: ExtAuthzDeps): CheckCall;
export function createExtAuthz(
  { checkAccess, logger }: ExtAuthzDeps,
  answer: CheckAnswer<unknown> = checkResponseFromDecision,
): CheckCall<unknown> {
  return async (check) => {
    let request: AccessRequest | undefined;
    try {
      request = accessRequestFromCheck(check);
      return answer(await checkAccess(request), request);
    } catch (err) {
      throw grpcError(err, request, logger);
    }
  };
}

/**
 * A failed RPC (not a deny) so Envoy's failure_mode_allow / status_on_error decides.
 * Messages are fixed strings or operator field names: never request data, never key material.
 */
function grpcError(err: unknown, request: AccessRequest | undefined, logger: Logger | undefined): GrpcError {
  const requestId = request?.requestId;
  if (err instanceof InputError) {
    logger?.warn({ requestId, problems: err.problems }, 'ext_authz: bad route configuration');
    return { code: GrpcStatus.INVALID_ARGUMENT, details: err.message };
  }
  // Logged (and counted) once by observeCheckAccess, where every store failure and shed call passes.
  const failure = grpcFailureStatus(err);
  if (failure) return failure;
  logger?.error({ requestId, err: withoutKey(err, request?.apiKey) }, 'ext_authz: unexpected error');
  return { code: GrpcStatus.INTERNAL, details: 'internal error' };
}

/** Whatever threw, the caller's key must not reach the logs through its message or stack. */
function withoutKey(err: unknown, apiKey: string | undefined): unknown {
  if (!(err instanceof Error)) return { type: typeof err };
  const scrub = (text: string | undefined) => (apiKey && text ? text.split(apiKey).join('[redacted]') : text);
  return { type: err.name, message: scrub(err.message), stack: scrub(err.stack) };
}
