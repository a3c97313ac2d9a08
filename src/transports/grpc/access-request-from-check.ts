// gRPC ext_authz, step 1: Envoy's CheckRequest → the core's AccessRequest (transport 'grpc').

import type { AccessRequest } from '../../access/access-request.js';
import { InputError } from '../../errors.js';
import type { HeaderValue } from '../../generated/envoy/config/core/v3/base.js';
import type { AttributeContext_HttpRequest } from '../../generated/envoy/service/auth/v3/attribute_context.js';
import { accessRequestFromHeaders, type HeaderRecord } from '../access-request-from-headers.js';

/** Route-level `context_extensions` keys an operator sets on the Envoy route (ExtAuthzPerRoute). */
export const ENDPOINT_EXTENSION = 'tollgate.endpoint';
export const COST_EXTENSION = 'tollgate.cost';

const NON_NEGATIVE_INTEGER = /^\d{1,15}$/;
/** Quota units one call may cost by route: beyond this it is a configuration mistake, not a price. */
export const MAX_COST = 1_000_000_000;

/**
 * The CheckRequest fields a decision reads: the generated CheckRequest (grpc-js) and the lean server's
 * decoder (lean/decode-check-request.ts), which reads only these, both fit.
 */
export interface CheckFields {
  attributes?: {
    request?: { http?: HttpFields | undefined } | undefined;
    contextExtensions: Record<string, string>;
  };
}
type HttpFields = Pick<AttributeContext_HttpRequest, 'method' | 'path' | 'headers'> & {
  headerMap?: { headers: Array<Pick<HeaderValue, 'key' | 'value' | 'rawValue'>> } | undefined;
};

/**
 * A request without attributes or http (not what Envoy sends, but possible from other clients)
 * becomes a key-less request: the core answers it with a 401 decision.
 * Throws InputError when the route's context_extensions are malformed (operator config error).
 */
export function accessRequestFromCheck(check: CheckFields): AccessRequest {
  const attributes = check.attributes;
  const http = attributes?.request?.http;
  const headers = http ? headerRecord(http) : {};
  const method = http?.method || single(headers[':method']) || '';
  // `path` is the raw :path, query included; normalisation is the core's job.
  const path = http?.path || single(headers[':path']) || '';
  const request = accessRequestFromHeaders('grpc', headers, method, path);

  const extensions = attributes?.contextExtensions ?? {};
  const endpoint = extensions[ENDPOINT_EXTENSION];
  if (endpoint) request.endpointHint = endpoint;
  const cost = extensions[COST_EXTENSION];
  if (cost !== undefined) request.costHint = parseCost(cost);
  return request;
}

function parseCost(value: string): number {
  const trimmed = value.trim();
  if (!NON_NEGATIVE_INTEGER.test(trimmed)) {
    throw new InputError([
      {
        path: `context_extensions["${COST_EXTENSION}"]`,
        message: 'must be a non-negative integer (quota units per call)',
      },
    ]);
  }
  const cost = Number(trimmed);
  if (cost > MAX_COST)
    throw new InputError([
      {
        path: `context_extensions["${COST_EXTENSION}"]`,
        message: `must be at most ${MAX_COST} quota units per call`,
      },
    ]);
  return cost;
}

/** `headers` (merged, lower-case) normally; `header_map` when Envoy runs with encode_raw_headers. */
function headerRecord(http: HttpFields): HeaderRecord {
  const entries = http.headerMap?.headers;
  if (!entries || entries.length === 0) return http.headers;
  const record: Record<string, string | string[]> = {};
  for (const { key, value, rawValue } of entries) {
    const name = key.toLowerCase();
    const text = rawValue.length > 0 ? rawValue.toString('utf8') : value;
    const seen = record[name];
    if (seen === undefined) record[name] = text;
    else if (Array.isArray(seen)) seen.push(text);
    else record[name] = [seen, text];
  }
  return record;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
