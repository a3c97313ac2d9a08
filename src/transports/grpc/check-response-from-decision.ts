// gRPC ext_authz, step 3: the core's Decision → Envoy's CheckResponse, rendered once by renderDecision.

import type { AccessRequest } from '../../access/access-request.js';
import type { Decision } from '../../access/decision.js';
import type { HeaderValueOption } from '../../generated/envoy/config/core/v3/base.js';
import type { CheckResponse } from '../../generated/envoy/service/auth/v3/external_auth.js';
import type { StatusCode } from '../../generated/envoy/type/v3/http_status.js';
import { renderDecision, type HeaderList } from '../headers.js';

/** gRPC status codes carried in CheckResponse.status (google.rpc.Code). */
export const GRPC_OK = 0;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNAUTHENTICATED = 16;

/** Envoy only looks at zero / non-zero; the value is for logs and other callers. */
const GRPC_CODE_FOR_HTTP: Record<number, number> = {
  400: GRPC_INVALID_ARGUMENT,
  401: GRPC_UNAUTHENTICATED,
  402: GRPC_RESOURCE_EXHAUSTED,
  403: GRPC_PERMISSION_DENIED,
  429: GRPC_RESOURCE_EXHAUSTED,
};

const NO_BYTES = Buffer.alloc(0);

/** The header Envoy's own rate-limit filter adds to its 429s: an Envoy in front will not retry. */
export const ENVOY_RATELIMITED = ['x-envoy-ratelimited', 'true'] as const;

/** CheckResponse.status.code of a denial with this HTTP status. */
export const grpcCodeForStatus = (status: number): number =>
  GRPC_CODE_FOR_HTTP[status] ?? GRPC_PERMISSION_DENIED;

export function checkResponseFromDecision(
  decision: Decision,
  request: Pick<AccessRequest, 'keyHeader' | 'spoofedHeaders'>,
): CheckResponse {
  const rendered = renderDecision(decision, request);
  // `status` is always set: an absent status would be read as code 0, i.e. allow.
  if (decision.allowed) {
    return {
      status: { code: GRPC_OK, message: '', details: [] },
      okResponse: {
        headers: options(rendered.upstreamHeaders),
        // Read-only here: the encoders only read it (it may be the shared key-headers list).
        headersToRemove: rendered.removeHeaders as string[],
        responseHeadersToAdd: options(rendered.clientHeaders),
        queryParametersToSet: [],
        queryParametersToRemove: [],
      },
    };
  }
  const headers = options(rendered.clientHeaders);
  if (rendered.status === 429) headers.push(option(...ENVOY_RATELIMITED));
  return {
    status: {
      code: grpcCodeForStatus(rendered.status),
      message: decision.code,
      details: [],
    },
    deniedResponse: {
      // 400/401/402/403/429 are all members of envoy.type.v3.StatusCode.
      status: { code: rendered.status as StatusCode },
      headers,
      body: rendered.body,
    },
  };
}

function options(headers: HeaderList): HeaderValueOption[] {
  return headers.map(([name, value]) => option(name, value));
}

/**
 * `append` is set explicitly to false (overwrite) and append_action left at 0: the one combination
 * every Envoy version reads the same way. Older releases read only `append`; newer ones use
 * `append_action` only when `append` is absent, and one release line briefly appended when both were
 * unset (HeaderValueOption in proto/envoy/config/core/v3/base.proto).
 */
function option(key: string, value: string): HeaderValueOption {
  return {
    header: { key, value, rawValue: NO_BYTES },
    append: false,
    appendAction: 0,
    keepEmptyValue: false,
  };
}
