// Admin listener (ADMIN_PORT): bearer-token check, route table, body and query validation, one error mapping.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { InputError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { answerClientError } from '../http/answer-client-error.js';
import { accountRoutes } from './account-routes.js';
import { billingEventRoutes } from './billing-event-routes.js';
import { adminTokenChecker } from './admin-auth.js';
import {
  HttpError,
  parseJsonBody,
  readBody,
  sendAdminError,
  sendAdminProblem,
  sendJson,
  sendText,
} from './admin-http.js';
import type { AdminCall, AdminDeps, AdminReply, AdminRoute } from './admin-route.js';
import { createRouter } from './admin-router.js';
import { validateObject } from './body-schema.js';
import { consoleHandler } from './console-assets.js';
import { consoleRoutes } from './console-routes.js';
import { creditRoutes } from './credit-routes.js';
import { keyRoutes } from './key-routes.js';
import { openApiDocument } from './openapi.js';
import { outboxRoutes } from './outbox-routes.js';
import { policyRoutes } from './policy-routes.js';
import { reportRoutes } from './report-routes.js';
import { reservationRoutes } from './reservation-routes.js';

/** JSON bodies are small (a few fields); the policy route allows more (POLICY_MAX_BYTES). */
export const MAX_BODY_BYTES = 64 * 1024;
const API_VERSION = '1';
const ACTOR = /^[\x21-\x7e][\x20-\x7e]{0,99}$/;

export interface AdminServerOptions extends AdminDeps {
  /** The bearer token every route requires (resolveAdminToken). */
  adminToken: string;
  logger?: Logger;
}

/** Every route the admin listener serves, the OpenAPI document's own route included. */
export function adminRoutes(deps: AdminDeps): AdminRoute[] {
  const routes = [
    ...accountRoutes(deps),
    ...keyRoutes(deps),
    ...creditRoutes(deps),
    ...policyRoutes(deps),
    ...reportRoutes(deps),
    ...reservationRoutes(deps),
    ...outboxRoutes(deps),
    ...billingEventRoutes(deps),
    ...consoleRoutes(deps),
  ];
  const openapi: AdminRoute = {
    method: 'GET',
    path: '/admin/openapi.json',
    summary:
      'This document (behind the token too: it maps the whole admin surface, and one rule for every route is simpler to audit)',
    responses: { 200: { description: 'OpenAPI 3.1' } },
    handle: async () => ({ status: 200, json: document }),
  };
  routes.push(openapi);
  const document = openApiDocument(routes, API_VERSION);
  return routes;
}

export function createAdminServer(options: AdminServerOptions): Server {
  const { adminToken, logger, ...deps } = options;
  const authorized = adminTokenChecker(adminToken);
  const router = createRouter(adminRoutes(deps));
  const serveConsole = consoleHandler();
  const server = createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, maxHeaderSize: 16 * 1024 },
    (req, res) => {
      try {
        // The console's files are public (no data in them); its API calls carry the token.
        if (serveConsole(req, res, (req.url ?? '/').split('?')[0]!)) return;
        handle(req, res);
      } catch (err) {
        sendAdminError(res, err, logger);
      }
    },
  );
  server.on('clientError', answerClientError);
  return server;

  function handle(req: IncomingMessage, res: ServerResponse) {
    if (!authorized(req.headers.authorization)) {
      return sendAdminProblem(
        res,
        401,
        'unauthorized',
        'Unauthorized',
        'Send Authorization: Bearer <ADMIN_TOKEN>.',
        {},
        ['www-authenticate', 'Bearer realm="tollgate-admin"'],
      );
    }
    const url = requestUrl(req.url ?? '/');
    const matched = router.match(req.method ?? 'GET', url.pathname);
    if (!matched)
      return sendAdminProblem(res, 404, 'not_found', 'Not found', `no admin route ${url.pathname}`);
    if ('allowed' in matched)
      return sendAdminProblem(
        res,
        405,
        'method_not_allowed',
        'Method not allowed',
        `use ${matched.allowed.join(', ')}`,
        {},
        ['allow', matched.allowed.join(', ')],
      );
    const { route, params } = matched.found;
    run(route, params, url.searchParams, req)
      .then((reply) => send(res, reply))
      .catch((err: unknown) => sendAdminError(res, err, logger));
  }
}

/** The target as a URL; one that does not parse (`http://[`, `//`) is the client's mistake: 400. */
function requestUrl(target: string): URL {
  try {
    return new URL(target, 'http://admin.invalid');
  } catch {
    throw new HttpError(400, 'invalid_request', 'Invalid request', 'the request target is not a valid URL');
  }
}

async function run(
  route: AdminRoute,
  params: Record<string, string>,
  search: URLSearchParams,
  req: IncomingMessage,
): Promise<AdminReply> {
  const nul = Object.keys(params).filter((name) => params[name]!.includes('\0'));
  if (nul.length > 0)
    throw new InputError(nul.map((name) => ({ path: name, message: 'must not contain U+0000 (NUL)' })));
  const call: AdminCall = {
    params,
    query: readQuery(route, search),
    body: {},
    text: '',
    headers: req.headers,
    actor: actorOf(req),
  };
  const contentType = req.headers['content-type'];
  if (route.rawBody) {
    call.text = await readBody(req, route.rawBody.maxBytes);
    const accepted = route.rawBody.contentTypes.concat(['text/yaml', 'application/x-yaml', 'text/plain']);
    if (contentType !== undefined && !accepted.some((type) => contentType.toLowerCase().startsWith(type))) {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'Unsupported media type',
        `send the body as ${route.rawBody.contentTypes.join(' or ')}`,
      );
    }
    if (call.text.trim() === '')
      throw new HttpError(400, 'invalid_request', 'Invalid request', 'the body is empty');
  } else if (route.method !== 'GET') {
    call.body = validateObject(
      parseJsonBody(await readBody(req, MAX_BODY_BYTES), contentType),
      route.body ?? { properties: {} },
    );
  }
  return route.handle(call);
}

/** Query parameters as one string each, validated like a body (unknown or repeated ones are 400). */
function readQuery(route: AdminRoute, search: URLSearchParams): Record<string, string> {
  const query: Record<string, string> = {};
  const repeated: string[] = [];
  for (const [name, value] of search) {
    if (Object.hasOwn(query, name)) repeated.push(name);
    query[name] = value;
  }
  if (repeated.length > 0)
    throw new HttpError(
      400,
      'invalid_request',
      'Invalid request',
      `repeated query parameter: ${repeated.join(', ')}`,
    );
  validateObject(query, route.query ?? { properties: {} });
  return query;
}

function actorOf(req: IncomingMessage): string {
  const named = req.headers['x-tollgate-actor'];
  return typeof named === 'string' && ACTOR.test(named) ? `admin:${named}` : 'admin';
}

function send(res: ServerResponse, reply: AdminReply): void {
  if ('json' in reply) sendJson(res, reply.status, reply.json, reply.headers);
  else sendText(res, reply.status, reply.contentType, reply.text, reply.headers);
}
