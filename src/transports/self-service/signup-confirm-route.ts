// HTTP listener (HTTP_PORT) → POST /v1/signup/confirm {token} (SIGNUP_ENABLED=on, SIGNUP_CONFIRM on): the
// token mailed by POST /v1/signup, used once, in exchange for the account and its key (shown once).
// Limited per client address like sign-up (its own counters); a malformed token costs no query.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { confirmSignup } from '../../signup/confirm-signup.js';
import { TOKEN_FORMAT } from '../../signup/request-signup.js';
import type { HttpRoute } from '../http/http-server.js';
import { sendProblem } from '../http/send-problem.js';
import { readJsonField } from './read-json-field.js';
import { sendSignupResult, withinSignupLimits, type SignupRouteOptions } from './signup-route.js';

export function createSignupConfirmRoute(options: SignupRouteOptions): HttpRoute {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST')
      return sendProblem(
        res,
        405,
        'method_not_allowed',
        'Method not allowed',
        'Use POST with {"token": "…"}.',
        ['allow', 'POST'],
      );
    const ip = options.clientAddress(req);
    if (!(await withinSignupLimits(res, options, 'signup_confirm', ip))) return;
    const token = await readJsonField(req, res, 'token', '{"token": "<the token from the email>"}');
    if (token === null) return;
    const result = TOKEN_FORMAT.test(token)
      ? await confirmSignup(options.sql, { token, tier: options.tier, confirmIp: ip })
      : null;
    if (result === null)
      return sendProblem(
        res,
        400,
        'invalid_token',
        'Invalid token',
        'The token is unknown, already used or expired: sign up again for a new one.',
      );
    // 409 here tells only the mailbox's owner (who holds the token) that it already has an account.
    sendSignupResult(res, options, result);
  };
}
