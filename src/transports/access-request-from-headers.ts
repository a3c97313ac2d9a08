// Wire headers (lower-case names, as node:http and Envoy both give them) → the core's AccessRequest.

import type { AccessRequest, Transport } from '../access/access-request.js';

export type HeaderRecord = Record<string, string | string[] | undefined>;

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;
/** Spellings an app may read as one of ours or as the key header once `_` and `-` are folded. */
const SPOOFED = /^x[-_]tollgate[-_]|^x[-_]api[-_]key$/;

export function accessRequestFromHeaders(
  transport: Transport,
  headers: HeaderRecord,
  method: string,
  path: string,
): AccessRequest {
  const request: AccessRequest = {
    transport,
    apiKey: undefined,
    keyHeader: undefined,
    method: method.toUpperCase(),
    path,
    spoofedHeaders: spoofedNames(headers),
    headers,
  };
  const apiKey = first(headers['x-api-key'])?.trim();
  if (apiKey) {
    request.apiKey = apiKey;
    request.keyHeader = 'x-api-key';
  } else {
    const bearer = BEARER.exec(first(headers['authorization']) ?? '');
    if (bearer) {
      request.apiKey = bearer[1];
      request.keyHeader = 'authorization';
    }
  }
  const requestId = first(headers['x-request-id']);
  if (requestId) request.requestId = requestId.slice(0, 128);
  return request;
}

/** Names an app could take for ours: each starts with `x`, so other names skip the pattern. */
function spoofedNames(headers: HeaderRecord): string[] {
  const found: string[] = [];
  for (const name of Object.keys(headers))
    if (name.charCodeAt(0) === 0x78 && name !== 'x-api-key' && SPOOFED.test(name)) found.push(name);
  return found;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
