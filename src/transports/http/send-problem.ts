// HTTP listener edge: the one place that turns a failure (not a denial) into an HTTP answer.

import type { ServerResponse } from 'node:http';
import { StoreUnavailable } from '../../errors.js';
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

/**
 * StoreUnavailable → 503 `unavailable` (FAILURE_MODE=closed): nginx turns it into 500 for its
 * error_page, Envoy HTTP mode treats any 5xx as an auth error (failure_mode_allow / status_on_error).
 * Anything else → 500 with a generic detail: the error text may hold internals, never the client's.
 */
export function sendFailure(res: ServerResponse, err: unknown, logger: Logger | undefined): void {
  // Logged (and counted) once by observeCheckAccess, where every store failure passes.
  if (err instanceof StoreUnavailable) {
    sendProblem(
      res,
      503,
      'unavailable',
      'Service unavailable',
      'The rate-limit store is unavailable; retry shortly.',
      ['retry-after', '1'],
    );
    return;
  }
  logger?.error({ err }, 'unexpected error in the HTTP decision path');
  sendProblem(res, 500, 'internal_error', 'Internal error', 'The request could not be checked.');
}

/** HeaderList tuples → the flat [name, value, …] array `writeHead` takes without copying into an object. */
export function flatHeaders(target: string[], list: ReadonlyArray<readonly [string, string]>): string[] {
  for (const [name, value] of list) target.push(name, value);
  return target;
}
