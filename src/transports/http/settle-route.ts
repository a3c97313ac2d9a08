// HTTP listener (HTTP_PORT) → POST /internal/usage/settle (SETTLE_TOKEN set): the app behind the
// proxy reports a metered call's actual units, and its reservation is settled.
//
//   Authorization: Bearer <SETTLE_TOKEN>
//   { "reservation": "<x-tollgate-reservation>", "units": 1234 }   units null = the reserved amount
//
// 200 { outcome: settled, reserved, units } | 200 { outcome: already_settled } (a retry changes
// nothing) | 404 unknown_reservation | 400 | 401 | 503 while the counters do not answer (retry).
// The shipped nginx config never routes /internal/ from outside.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logger.js';
import { MAX_SETTLE_UNITS, type ReservationSettler } from '../../metering/reservation-settler.js';
import { adminTokenChecker } from '../admin/admin-auth.js';
import type { HttpRoute } from './http-server.js';
import { readJsonObject } from './read-json-object.js';
import { httpFailure, sendJson, sendProblem } from './send-problem.js';

export const SETTLE_PATH = '/internal/usage/settle';
const MAX_BODY_BYTES = 4 * 1024;
const EXAMPLE = '{"reservation": "<x-tollgate-reservation>", "units": 1234}';

export interface SettleRouteOptions {
  settler: ReservationSettler;
  /** SETTLE_TOKEN (never logged, never in an answer). */
  token: string;
  logger?: Logger;
}

export function createSettleRoute({ settler, token, logger }: SettleRouteOptions): HttpRoute {
  const authorized = adminTokenChecker(token);
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST')
      return sendProblem(res, 405, 'method_not_allowed', 'Method not allowed', `POST ${EXAMPLE}.`, [
        'allow',
        'POST',
      ]);
    if (!authorized(req.headers.authorization))
      return sendProblem(
        res,
        401,
        'unauthorized',
        'Unauthorized',
        'Send Authorization: Bearer <SETTLE_TOKEN>.',
        ['www-authenticate', 'Bearer realm="tollgate-settle"'],
      );
    const body = await readSettleBody(req, res);
    if (!body) return;
    try {
      const result = await settler.settle(body.reservation, body.units);
      if (result.outcome === 'unknown')
        return sendProblem(
          res,
          404,
          'unknown_reservation',
          'Unknown reservation',
          'No such reservation: send the x-tollgate-reservation value of an allowed metered call.',
        );
      sendJson(res, 200, result);
    } catch (err) {
      if (!httpFailure(err)) {
        logger?.error({ err }, 'settle failed');
        return sendProblem(res, 500, 'internal_error', 'Internal error', 'The settle failed; see the logs.');
      }
      sendProblem(
        res,
        503,
        'unavailable',
        'Service unavailable',
        'The counters are unavailable; retry shortly (a settle is applied once, however often it is sent).',
        ['retry-after', '1'],
      );
    }
  };
}

async function readSettleBody(
  req: IncomingMessage,
  res: ServerResponse,
): Promise<{ reservation: string; units: number | null } | null> {
  const body = await readJsonObject(req, res, MAX_BODY_BYTES, EXAMPLE, ['reservation', 'units']);
  if (body === null) return null;
  const bad = (detail: string) => (sendProblem(res, 400, 'invalid_request', 'Invalid request', detail), null);
  const { reservation, units } = body;
  if (typeof reservation !== 'string' || reservation === '' || reservation.length > 300)
    return bad('reservation: is required (the x-tollgate-reservation header value)');
  if (units === undefined)
    return bad('units: is required (the actual count, or null for the reserved amount)');
  if (units === null) return { reservation, units: null };
  if (typeof units !== 'number' || !Number.isSafeInteger(units) || units < 0 || units > MAX_SETTLE_UNITS)
    return bad(`units: must be an integer from 0 to ${MAX_SETTLE_UNITS}, or null`);
  return { reservation, units };
}
