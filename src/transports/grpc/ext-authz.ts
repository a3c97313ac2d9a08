// gRPC ext_authz: envoy.service.auth.v3.Authorization/Check — wire request → CheckAccess → wire answer.
// The one place where failures map to gRPC statuses for this service.

import { status as GrpcStatus, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { AccessRequest } from '../../access/access-request.js';
import type { CheckAccess } from '../../access/check-access.js';
import { InputError } from '../../errors.js';
import type {
  AuthorizationServer,
  CheckRequest,
  CheckResponse,
} from '../../generated/envoy/service/auth/v3/external_auth.js';
import type { Logger } from '../../observability/logger.js';
import { accessRequestFromCheck } from './access-request-from-check.js';
import { checkResponseFromDecision } from './check-response-from-decision.js';
import { grpcFailureStatus } from './grpc-failure-status.js';

export interface ExtAuthzDeps {
  checkAccess: CheckAccess;
  logger?: Logger;
}

type GrpcError = { code: GrpcStatus; details: string };

export function createExtAuthz({ checkAccess, logger }: ExtAuthzDeps): AuthorizationServer {
  async function check(
    call: ServerUnaryCall<CheckRequest, CheckResponse>,
    callback: sendUnaryData<CheckResponse>,
  ): Promise<void> {
    let request: AccessRequest | undefined;
    let response: CheckResponse;
    try {
      request = accessRequestFromCheck(call.request);
      response = checkResponseFromDecision(await checkAccess(request), request);
    } catch (err) {
      return callback(grpcError(err, request, logger));
    }
    // Outside the try: the callback must run exactly once.
    callback(null, response);
  }
  return {
    check: (call, callback) => void check(call, callback),
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
