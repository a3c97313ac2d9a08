// HTTP listener edge: the one place that turns a failure (not a denial) into an HTTP answer.

import type { ServerResponse } from 'node:http';
import { Overloaded, StoreUnavailable } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { PROBLEM_CONTENT_TYPE } from '../headers.js';

/** Writes a problem+json answer (RFC 9457); a no-op when the answer has already started. */
export function sendProblem(
  res: ServerResponse,
  status: number,
  code: string,
  title: string,
  detail: string,
  headers: string[] = [],
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ type: `urn:tollgate:problem:${code}`, title, status, detail, code });
  res.writeHead(status, [
    ...headers,
    'content-type',
    PROBLEM_CONTENT_TYPE,
    'content-length',
    String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}

/** A failure of the decision path (not a denial) as an HTTP problem. */
export interface HttpFailure {
  status: 503;
  code: 'unavailable' | 'overloaded';
  title: string;
  detail: string;
}

/**
 * StoreUnavailable → 503 `unavailable` (FAILURE_MODE=closed); Overloaded → 503 `overloaded` (past
 * MAX_INFLIGHT). Pure, for every HTTP transport. undefined: anything else (an internal error).
 */
export function httpFailure(err: unknown): HttpFailure | undefined {
  if (err instanceof StoreUnavailable)
    return {
      status: 503,
      code: 'unavailable',
      title: 'Service unavailable',
      detail: 'The rate-limit store is unavailable; retry shortly.',
    };
  if (err instanceof Overloaded)
    return {
      status: 503,
      code: 'overloaded',
      title: 'Overloaded',
      detail: 'Too many requests are being checked at once; retry shortly.',
    };
  return undefined;
}

/**
 * httpFailure → its 503: nginx turns it into 500 for its error_page, Envoy HTTP mode treats any 5xx
 * as an auth error (failure_mode_allow / status_on_error). Anything else → 500 with a generic
 * detail: the error text may hold internals, never the client's.
 */
export function sendFailure(res: ServerResponse, err: unknown, logger: Logger | undefined): void {
  // Logged (and counted) once by observeCheckAccess, where every store failure and shed call passes.
  const failure = httpFailure(err);
  if (failure) {
    sendProblem(res, failure.status, failure.code, failure.title, failure.detail, ['retry-after', '1']);
    return;
  }
  logger?.error({ err }, 'unexpected error in the HTTP decision path');
  sendProblem(res, 500, 'internal_error', 'Internal error', 'The request could not be checked.');
}

/** A JSON answer; never cached (it is about this caller, or this replica, now). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, [
    'content-type',
    'application/json; charset=utf-8',
    'cache-control',
    'no-store',
    'content-length',
    String(Buffer.byteLength(text)),
  ]);
  res.end(text);
}
