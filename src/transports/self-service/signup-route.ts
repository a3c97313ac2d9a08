// HTTP listener (HTTP_PORT) → POST /v1/signup (SIGNUP_ENABLED=on): an email in, an account on the sign-up
// tier and a key out (shown once). Unauthenticated, so limited by client address and globally, each a
// counters-only decision (`endpoint: ''`, no quota, no credits, no usage record).

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CounterStore } from '../../counters/counter-store.js';
import type { Sql } from '../../db/sql.js';
import type { PolicyResolver } from '../../policy/policy-resolver.js';
import { createSignup } from '../../signup/create-signup.js';
import { emailHash, normalizeEmail } from '../../signup/normalize-email.js';
import type { HttpRoute } from '../http/http-server.js';
import { sendProblem } from '../http/send-problem.js';

const MAX_BODY_BYTES = 4 * 1024;
const HOUR_MS = 3_600_000;

export interface SignupRouteOptions {
  sql: Sql;
  counters: CounterStore;
  policy: () => PolicyResolver;
  tier: string;
  perIpPerHour: number;
  globalPerMinute: number;
  /** TRUST_PROXY: the first X-Forwarded-For hop is the client, else the socket address. */
  trustProxy: boolean;
}

export function createSignupRoute(options: SignupRouteOptions): HttpRoute {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST')
      return sendProblem(
        res,
        405,
        'method_not_allowed',
        'Method not allowed',
        'Use POST with {"email": "…"}.',
        ['allow', 'POST'],
      );
    const ip = clientAddress(req, options.trustProxy);
    // The address is hashed into the counter id: no client address is kept in Redis.
    const perIp = await limit(
      options.counters,
      `signup_${createHash('sha256').update(ip).digest('hex').slice(0, 24)}`,
      options.perIpPerHour,
      HOUR_MS,
    );
    const retryMs = perIp ?? (await limit(options.counters, 'signup_all', options.globalPerMinute, 60_000));
    if (retryMs !== null) {
      const detail =
        perIp !== null
          ? `At most ${options.perIpPerHour} sign-ups per hour from one address.`
          : 'Too many sign-ups right now.';
      return sendProblem(res, 429, 'rate_limit_exceeded', 'Too many requests', detail, [
        'retry-after',
        String(Math.max(1, Math.ceil(retryMs / 1000))),
      ]);
    }
    const email = await readEmail(req, res);
    if (email === null) return;
    const result = await createSignup(options.sql, { emailHash: emailHash(email), tier: options.tier, ip });
    if (!result.created)
      return sendProblem(
        res,
        409,
        'email_taken',
        'Email already registered',
        'This email address already has an account.',
      );
    const tier = options.policy().policy.tiers[options.tier];
    json(res, 201, {
      account_id: result.accountId,
      tier: options.tier,
      key: result.key.key,
      key_id: result.key.id,
      upgrade_url: tier?.upgradeUrl ?? null,
    });
  };
}

export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = trustProxy && typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : '';
  return (first || req.socket.remoteAddress || 'unknown').slice(0, 100);
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

/** The normalised email, or null after answering 400/413/415. */
async function readEmail(req: IncomingMessage, res: ServerResponse): Promise<string | null> {
  const bad = (detail: string) => (sendProblem(res, 400, 'invalid_request', 'Invalid request', detail), null);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES)
    return (
      sendProblem(res, 413, 'payload_too_large', 'Payload too large', `at most ${MAX_BODY_BYTES} bytes`, [
        'connection',
        'close',
      ]),
      null
    );
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type))
    return (
      sendProblem(res, 415, 'unsupported_media_type', 'Unsupported media type', 'Send application/json.'),
      null
    );
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      return (
        sendProblem(res, 413, 'payload_too_large', 'Payload too large', `at most ${MAX_BODY_BYTES} bytes`, [
          'connection',
          'close',
        ]),
        null
      );
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return bad('The body must be JSON: {"email": "you@example.com"}.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bad('The body must be a JSON object: {"email": "you@example.com"}.');
  const unknown = Object.keys(body).filter((k) => k !== 'email');
  if (unknown.length > 0) return bad(`unknown field: ${unknown.join(', ')} (known: email)`);
  const raw = (body as { email?: unknown }).email;
  if (typeof raw !== 'string') return bad('email: is required (a string)');
  const email = normalizeEmail(raw);
  return email ?? bad('email: expected an email address like you@example.com (at most 254 characters)');
}

function json(res: ServerResponse, status: number, body: unknown): void {
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
