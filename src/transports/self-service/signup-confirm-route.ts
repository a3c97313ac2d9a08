// HTTP listener (HTTP_PORT) → POST /v1/signup/confirm {token} (SIGNUP_ENABLED=on, SIGNUP_CONFIRM on): the
// token mailed by POST /v1/signup, used once, in exchange for the account and its key (shown once).
// Limited per client address like sign-up (its own counters); a malformed token costs no query.

import { confirmSignup } from '../../signup/confirm-signup.js';
import { TOKEN_FORMAT } from '../../signup/request-signup.js';
import type { HttpRoute } from '../http/http-server.js';
import { sendProblem } from '../http/send-problem.js';
import { limitedPost, sendSignupResult, type SignupRouteOptions } from './signup-route.js';

export function createSignupConfirmRoute(options: SignupRouteOptions): HttpRoute {
  const example = '{"token": "<the token from the email>"}';
  return limitedPost(options, 'signup_confirm', 'token', example, async (token, ip, res) => {
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
  });
}
