// HTTP listener (HTTP_PORT): a tiny router for nginx /check, Envoy /ext_authz/*, and the probes.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CheckAccess } from '../../access/check-access.js';
import type { Logger } from '../../logger.js';
import { answerClientError } from './answer-client-error.js';
import { ENVOY_HTTP_PREFIX, envoyHttp } from './envoy-http.js';
import { nginxCheck, type DecisionContext } from './nginx-check.js';
import { sendFailure, sendJson, sendProblem } from './send-problem.js';

/** Extra exact-path routes (e.g. /metrics, /v1/me) added by the composition root. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  checkAccess: CheckAccess;
  logger?: Logger;
  /** /readyz answers 200 while this is true (default: always ready). */
  ready?: () => boolean;
  /** Why not ready, listed in the 503 /readyz body (an operator's first question after a failed probe). */
  readyReasons?: () => string[];
  routes?: Record<string, HttpRoute>;
}

/**
 * Sidecar tuning. Proxies keep pooled connections open: the server must never close an idle one
 * first, or the proxy may reuse a socket we are closing and fail a request. nginx `keepalive_timeout`
 * (upstream) defaults to 60 s and the shipped envoy configs set the sidecar cluster idle_timeout to
 * 60 s, so we wait longer. Headers are bounded at 32 KiB (nginx forwards the client's headers, which
 * its default large_client_header_buffers allow up to 4 × 8 KiB); an oversize request gets 431.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 75_000;
const MAX_HEADER_BYTES = 32 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
const ENVOY_HTTP_DIR = `${ENVOY_HTTP_PREFIX}/`;

export function createHttpServer({
  checkAccess,
  logger,
  ready = () => true,
  readyReasons = () => [],
  routes = {},
}: HttpServerOptions): Server {
  const ctx: DecisionContext = { checkAccess, logger };
  const extra = new Map(Object.entries(routes));
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      noDelay: true,
    },
    (req, res) => {
      try {
        dispatch(req, res);
      } catch (err) {
        sendFailure(res, err, logger);
      }
    },
  );

  function dispatch(req: IncomingMessage, res: ServerResponse) {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (path === '/check') return void nginxCheck(ctx, req, res);
    if (path === ENVOY_HTTP_PREFIX || path.startsWith(ENVOY_HTTP_DIR)) return void envoyHttp(ctx, req, res);
    if (path === '/healthz') return plain(res, 200, 'ok\n');
    if (path === '/readyz')
      return ready()
        ? sendJson(res, 200, { ready: true, reasons: [] })
        : sendJson(res, 503, { ready: false, reasons: readyReasons() });
    const route = extra.get(path);
    if (route) return runRoute(route, req, res, logger);
    sendProblem(res, 404, 'not_found', 'Not found', 'No such path on the Tollgate HTTP listener.');
  }
  server.on('clientError', answerClientError);
  return server;
}

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length)]);
  res.end(body);
}

function runRoute(
  route: HttpRoute,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger | undefined,
): void {
  try {
    const pending = route(req, res);
    if (pending) pending.catch((err: unknown) => sendFailure(res, err, logger));
  } catch (err) {
    sendFailure(res, err, logger);
  }
}
