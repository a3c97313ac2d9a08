// HTTP listener (HTTP_PORT) → POST /v1/signup (SIGNUP_ENABLED=on): an email in. With SIGNUP_CONFIRM on
// (default) the answer is 202 for every valid address, taken or new, and the key is issued only at
// POST /v1/signup/confirm with the token mailed to the address (signup-confirm-route.ts); with it off,
// an account and a key at once (201, or 409 for a taken mailbox). Unauthenticated, so limited per client
// address (IPv6: per /64) and globally, each a counters-only decision (`endpoint: ''`, no usage record).

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CounterStore } from '../../counters/counter-store.js';
import type { Sql } from '../../db/sql.js';
import type { PolicyResolver } from '../../policy/policy-resolver.js';
import { createSignup, type SignupResult } from '../../signup/create-signup.js';
import { emailHash, normalizeEmail } from '../../signup/normalize-email.js';
import { requestSignup } from '../../signup/request-signup.js';
import { addressLimitKey } from '../http/client-address.js';
import type { HttpRoute } from '../http/http-server.js';
import { sendJson, sendProblem } from '../http/send-problem.js';
import { readJsonField } from './read-json-field.js';

const HOUR_MS = 3_600_000;

export interface SignupRouteOptions {
  sql: Sql;
  counters: CounterStore;
  policy: () => PolicyResolver;
  tier: string;
  perIpPerHour: number;
  globalPerMinute: number;
  /** The client address (client-address.ts): what the per-address limit counts and the audit row keeps. */
  clientAddress: (req: IncomingMessage) => string;
  /** SIGNUP_SECRET: keys the mailbox HMAC and seals the token in the outbox. */
  secret: string;
  /** SIGNUP_CONFIRM: the key only through the mailed token. */
  confirm: boolean;
  tokenTtlMs: number;
}

export function createSignupRoute(options: SignupRouteOptions): HttpRoute {
  return limitedPost(options, 'signup', 'email', '{"email": "you@example.com"}', async (raw, ip, res) => {
    const email = normalizeEmail(raw);
    if (email === null)
      return sendProblem(
        res,
        400,
        'invalid_request',
        'Invalid request',
        'email: expected an email address like you@example.com (at most 254 characters)',
      );
    const hash = emailHash(options.secret, email);
    if (options.confirm) {
      await requestSignup(options.sql, {
        email,
        emailHash: hash,
        ip,
        secret: options.secret,
        ttlMs: options.tokenTtlMs,
      });
      // The same answer whether the mailbox is new or taken: only its owner learns which, by mail.
      return sendJson(res, 202, {
        status: 'confirmation_sent',
        detail: 'If this address can sign up, a confirmation token is on its way to it.',
      });
    }
    sendSignupResult(
      res,
      options,
      await createSignup(options.sql, { emailHash: hash, tier: options.tier, ip }),
    );
  });
}

/**
 * The public POST routes' common front: POST only, one hit on the limits of `bucket` for the client
 * address, a JSON body with one string `field` — then `handle`; anything else is answered here.
 */
export function limitedPost(
  options: SignupRouteOptions,
  bucket: string,
  field: string,
  example: string,
  handle: (value: string, ip: string, res: ServerResponse) => Promise<void>,
): HttpRoute {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST')
      return sendProblem(res, 405, 'method_not_allowed', 'Method not allowed', `Use POST with ${example}.`, [
        'allow',
        'POST',
      ]);
    const ip = options.clientAddress(req);
    if (!(await withinSignupLimits(res, options, bucket, ip))) return;
    const value = await readJsonField(req, res, field, example);
    if (value !== null) await handle(value, ip, res);
  };
}

/** 201 with the key (shown once), or 409 when the mailbox already has an account. */
export function sendSignupResult(
  res: ServerResponse,
  options: { tier: string; policy: () => PolicyResolver },
  result: SignupResult,
): void {
  if (!result.created) {
    sendProblem(
      res,
      409,
      'email_taken',
      'Email already registered',
      'This email address already has an account.',
    );
    return;
  }
  const tier = options.policy().policy.tiers[options.tier];
  sendJson(res, 201, {
    account_id: result.accountId,
    tier: options.tier,
    key: result.key.key,
    key_id: result.key.id,
    upgrade_url: tier?.upgradeUrl ?? null,
  });
}

/**
 * One hit on the per-address limit (`bucket` apart per route), then on the global one; false after
 * answering 429. The address is hashed into the counter id: no client address is kept in Redis.
 */
export async function withinSignupLimits(
  res: ServerResponse,
  options: { counters: CounterStore; perIpPerHour: number; globalPerMinute: number },
  bucket: string,
  ip: string,
): Promise<boolean> {
  const address = createHash('sha256').update(addressLimitKey(ip)).digest('hex').slice(0, 24);
  const perIp = await limit(options.counters, `${bucket}_${address}`, options.perIpPerHour, HOUR_MS);
  const retryMs = perIp ?? (await limit(options.counters, `${bucket}_all`, options.globalPerMinute, 60_000));
  if (retryMs === null) return true;
  const detail =
    perIp !== null
      ? `At most ${options.perIpPerHour} requests per hour from one address.`
      : 'Too many sign-ups right now.';
  sendProblem(res, 429, 'rate_limit_exceeded', 'Too many requests', detail, [
    'retry-after',
    String(Math.max(1, Math.ceil(retryMs / 1000))),
  ]);
  return false;
}

/** null = within the limit (one hit counted); else ms until a sign-up is allowed again. */
async function limit(
  counters: CounterStore,
  id: string,
  perWindow: number,
  windowMs: number,
): Promise<number | null> {
  const result = await counters.decide({
    accountId: id,
    limits: [
      {
        id: 'signup',
        name: 'signup',
        algorithm: 'sliding_window',
        limit: perWindow,
        windowMs,
        shadow: false,
        hits: 1,
      },
    ],
    anchorDay: 1,
    units: 0,
    quota: null,
    credits: null,
    endpoint: '',
  });
  return result.allowed ? null : result.limits[0]!.retryAfterMs;
}
