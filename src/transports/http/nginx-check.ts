// HTTP listener → GET /check: nginx `auth_request` subrequest → AccessRequest → checkAccess → 204 / 401 / 403.
//
// nginx only understands 2xx (allow), 401 and 403 from an auth subrequest; anything else becomes a
// 500 for the client. So every denial other than 401 is answered 403 and the real status travels in
// `X-Tollgate-Status`, which the shipped nginx/tollgate.conf turns back into 400 / 402 / 403 / 429.
// nginx also discards the subrequest body, so what the client's problem+json needs travels in headers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CheckAccess } from '../../access/check-access.js';
import type { Decision } from '../../access/decision.js';
import type { Logger } from '../../logger.js';
import { accessRequestFromHeaders } from '../access-request-from-headers.js';
import { renderFlat } from '../headers.js';
import { httpFailure, sendFailure, sendProblem } from './send-problem.js';

/** An HTTP method token as nginx forwards it in `X-Original-Method`. */
const METHOD = /^[A-Za-z]{1,32}$/;
/** `scheme://authority` of an absolute-form target, dropped so the path is matched as the upstream routes it. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The `X-Tollgate-*` request headers nginx/tollgate-upstream-headers.conf overwrites (a test holds the
 * two in step). nginx cannot remove headers by pattern, so a client-sent name outside this list, or
 * any `x_tollgate_*` / `x_api_key` spelling, is refused here rather than passed to the app.
 */
export const NGINX_OVERWRITTEN_HEADERS: ReadonlySet<string> = new Set([
  'x-tollgate-account',
  'x-tollgate-key-id',
  'x-tollgate-tier',
  'x-tollgate-endpoint',
  'x-tollgate-overage',
  'x-tollgate-reservation',
  'x-tollgate-shadow-denied',
  'x-tollgate-degraded',
]);

export interface DecisionContext {
  checkAccess: CheckAccess;
  logger: Logger | undefined;
}

export async function nginxCheck(
  ctx: DecisionContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const uri = req.headers['x-original-uri'];
    const method = req.headers['x-original-method'];
    if (typeof uri !== 'string' || uri === '' || typeof method !== 'string' || !METHOD.test(method)) {
      misconfigured(ctx, res);
      return;
    }
    // An origin-form target (the usual one) has no scheme://authority to drop.
    const path = uri.charCodeAt(0) === 0x2f ? uri : uri.replace(ABSOLUTE_FORM, '');
    const request = accessRequestFromHeaders('http', req.headers, method, path);
    if (request.spoofedHeaders.some((name) => !NGINX_OVERWRITTEN_HEADERS.has(name)))
      return refuseSpoofed(res);
    const decision = await ctx.checkAccess(request);
    const rendered = renderFlat(decision, request);
    if (decision.allowed) {
      // Identity for `auth_request_set` → `proxy_set_header` upstream; RateLimit headers for the client.
      const headers = rendered.client;
      for (let i = 0; i < rendered.upstream.length; i++) headers.push(rendered.upstream[i]!);
      res.writeHead(nginxCheckStatus(decision), headers);
      res.end();
      return;
    }
    const headers = ['x-tollgate-status', String(decision.status), 'x-tollgate-code', decision.code];
    for (let i = 0; i < rendered.client.length; i++) headers.push(rendered.client[i]!);
    headers.push('x-tollgate-detail', jsonStringContent(decision.detail));
    if (decision.upgradeUrl) headers.push('x-tollgate-upgrade-url', jsonStringContent(decision.upgradeUrl));
    headers.push('content-length', String(Buffer.byteLength(rendered.body)));
    // The body is for humans calling /check directly (curl); nginx drops it.
    res.writeHead(nginxCheckStatus(decision), headers);
    res.end(rendered.body);
  } catch (err) {
    const failure = httpFailure(err);
    if (failure?.code === 'overloaded') {
      // Shed, not failed: as a denial (403 + X-Tollgate-Status), so nginx answers the client the
      // real 503 `overloaded` instead of its fail-closed/fail-open path for a sidecar that is down.
      sendProblem(res, 403, failure.code, failure.title, failure.detail, [
        'x-tollgate-status',
        '503',
        'x-tollgate-code',
        failure.code,
        'x-tollgate-detail',
        failure.detail,
        'retry-after',
        '1',
      ]);
      return;
    }
    sendFailure(res, err, ctx.logger);
  }
}

/** 403 on the wire (what auth_request relays), 400 for the client through X-Tollgate-Status. */
function refuseSpoofed(res: ServerResponse): void {
  const detail = 'Headers named X-Tollgate-* are set by the gateway; do not send them.';
  const headers = [
    'x-tollgate-status',
    '400',
    'x-tollgate-code',
    'spoofed_header',
    'x-tollgate-detail',
    detail,
  ];
  sendProblem(res, 403, 'spoofed_header', 'Spoofed gateway header', detail, headers);
}

/**
 * No X-Original-URI / X-Original-Method means the proxy config is wrong, not the client: we cannot
 * know what is being called, so we fail closed with 403 (nginx relays 403; a 4xx/5xx other than
 * 401/403 would become a 500 that a fail-open config could turn into an unchecked pass).
 * `X-Tollgate-Status: 403` + code `proxy_misconfigured` reach the client; the log says what to fix.
 */
function misconfigured(ctx: DecisionContext, res: ServerResponse): void {
  ctx.logger?.warn(
    '/check without X-Original-URI / X-Original-Method: set both in the auth_request location',
  );
  const detail =
    'The gateway did not say which request to check (X-Original-URI and X-Original-Method are required).';
  sendProblem(res, 403, 'proxy_misconfigured', 'Gateway misconfigured', detail, [
    'x-tollgate-status',
    '403',
    'x-tollgate-code',
    'proxy_misconfigured',
    'x-tollgate-detail',
    detail,
  ]);
}

/**
 * The inside of a JSON string literal, ASCII only, so nginx can paste the header value into the
 * problem+json body it builds with `return` (nginx cannot escape) and the value is a valid header.
 */
export function jsonStringContent(value: string): string {
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * What GET /check answers nginx: 204 allowed, 401 for a key problem, 403 for every other denial (the
 * real status travels in x-tollgate-status). `tollgate check` prints the same.
 */
export function nginxCheckStatus(decision: Decision): 204 | 401 | 403 {
  if (decision.allowed) return 204;
  return decision.status === 401 ? 401 : 403;
}
