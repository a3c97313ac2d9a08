// Decision → everything a proxy relays: status, RateLimit headers, problem+json, upstream identity.
// Shared by every transport so the wire answer is rendered in exactly one place.

import type { AccessRequest } from '../access/access-request.js';
import type { Decision, PolicyState } from '../access/decision.js';
import { RESERVATION_HEADER } from '../metering/reservation-settler.js';

export type HeaderList = Array<[name: string, value: string]>;

export interface RenderedDecision {
  /** Client-facing status: 200 when allowed, else 401/402/403/429. */
  status: number;
  /** Headers for the client response (allowed or denied). */
  clientHeaders: HeaderList;
  /** Headers to set (overwrite) on the upstream request; only when allowed. */
  upstreamHeaders: HeaderList;
  /** Request headers to remove before the upstream: both key headers and every spoofed spelling. */
  removeHeaders: readonly string[];
  /** problem+json when denied, '' when allowed. */
  body: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** Every header a key can arrive in (access-request-from-headers.ts); removed on every allow. */
export const KEY_HEADERS = ['x-api-key', 'authorization'] as const;
const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

const TITLES: Record<string, string> = {
  ambiguous_path: 'Ambiguous path',
  missing_api_key: 'API key required',
  invalid_api_key: 'Invalid API key',
  account_suspended: 'Account suspended',
  endpoint_not_in_plan: 'Endpoint not in plan',
  rate_limit_exceeded: 'Rate limit exceeded',
  quota_exceeded: 'Monthly quota exhausted',
  insufficient_credits: 'Not enough credits',
};

export function renderDecision(
  decision: Decision,
  request: Pick<AccessRequest, 'keyHeader' | 'spoofedHeaders'>,
): RenderedDecision {
  const flat = renderFlat(decision, request);
  return {
    status: flat.status,
    clientHeaders: pairsOf(flat.client),
    upstreamHeaders: pairsOf(flat.upstream),
    removeHeaders: flat.removeHeaders,
    body: flat.body,
  };
}

/** renderDecision with its header lists flat, `[name, value, name, value, …]`. */
export interface FlatRendered {
  status: number;
  client: string[];
  upstream: string[];
  removeHeaders: readonly string[];
  body: string;
}

/**
 * renderDecision for the hot paths: the header lists flat, as node:http's writeHead takes them and as
 * the lean Check encoder walks them, with no [name, value] array per header.
 */
export function renderFlat(
  decision: Decision,
  request: Pick<AccessRequest, 'keyHeader' | 'spoofedHeaders'>,
): FlatRendered {
  const client: string[] = [];
  pushRateLimitHeaders(client, decision.policies);
  const upstream: string[] = [];
  if (decision.allowed) {
    upstream.push(
      'x-tollgate-account',
      decision.identity.accountId,
      'x-tollgate-key-id',
      decision.identity.keyId,
      'x-tollgate-tier',
      decision.identity.tier,
      'x-tollgate-endpoint',
      decision.endpoint,
    );
    if (decision.overage) upstream.push('x-tollgate-overage', 'true');
    if (decision.reservation) upstream.push(RESERVATION_HEADER, decision.reservation);
    if (decision.shadowDenied.length > 0)
      upstream.push('x-tollgate-shadow-denied', decision.shadowDenied.join(', '));
    // FAILURE_MODE open / local answered: the upstream may want to be more careful (or just log it).
    if (decision.degraded) upstream.push('x-tollgate-degraded', 'true');
  }
  // Both key headers, always: a key sent in one and copied in the other must not reach the app.
  const removeHeaders =
    request.spoofedHeaders.length === 0 ? ONLY_KEY_HEADERS : withSpoofed(request, upstream);
  if (decision.allowed) return { status: 200, client, upstream, removeHeaders, body: '' };

  if (decision.status === 401) client.push('www-authenticate', 'Bearer realm="tollgate"');
  if (decision.retryAfterSec !== undefined) client.push('retry-after', String(decision.retryAfterSec));
  client.push('content-type', PROBLEM_CONTENT_TYPE);
  return { status: decision.status, client, upstream, removeHeaders, body: problemJson(decision) };
}

/** A flat `[name, value, …]` list → HeaderList pairs. */
function pairsOf(flat: readonly string[]): HeaderList {
  const pairs: HeaderList = new Array(flat.length / 2);
  for (let i = 0; i < flat.length; i += 2) pairs[i / 2] = [flat[i]!, flat[i + 1]!];
  return pairs;
}

/** removeHeaders of a request without spoofed headers: shared, never changed by a reader. */
const ONLY_KEY_HEADERS: readonly string[] = [...KEY_HEADERS];

/** The key headers and the spoofed ones this answer does not overwrite anyway (`upstream` is flat). */
function withSpoofed(request: Pick<AccessRequest, 'spoofedHeaders'>, upstream: readonly string[]): string[] {
  const setNames = new Set(upstream.filter((_, i) => i % 2 === 0));
  return [...KEY_HEADERS, ...request.spoofedHeaders.filter((name) => !setNames.has(name))];
}

export interface Problem {
  code: string;
  status: number;
  detail: string;
  violated: string[];
  retryAfterSec?: number | undefined;
  upgradeUrl?: string | undefined;
}

/** The RFC 9457 body of a denial, the same for every transport (RLS included). */
export function problemJson(problem: Problem): string {
  const body: Record<string, unknown> = {
    type:
      problem.code === 'rate_limit_exceeded' ? QUOTA_EXCEEDED_TYPE : `urn:tollgate:problem:${problem.code}`,
    title: TITLES[problem.code],
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
  };
  if (problem.violated.length > 0) body['violated-policies'] = problem.violated;
  if (problem.retryAfterSec !== undefined) body['retry_after'] = problem.retryAfterSec;
  if (problem.upgradeUrl) body['upgrade_url'] = problem.upgradeUrl;
  return JSON.stringify(body);
}

/**
 * IETF draft-10 `RateLimit-Policy` / `RateLimit` for every policy, plus `X-RateLimit-*` for the tightest,
 * onto a flat `[name, value, …]` list. Built by concatenation in one pass: this runs on every decision
 * of every transport.
 */
export function pushRateLimitHeaders(out: string[], policies: PolicyState[]): void {
  if (policies.length === 0) return;
  let tightest = policies[0]!;
  let policy = '';
  let state = '';
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    const name = sfString(p.name);
    if (i > 0) {
      policy += ', ';
      state += ', ';
      if (
        p.remaining < tightest.remaining ||
        (p.remaining === tightest.remaining && p.resetSec > tightest.resetSec)
      )
        tightest = p;
    }
    policy += `${name};q=${p.limit};w=${Math.max(1, p.windowSec)}`;
    state += `${name};r=${p.remaining};t=${p.resetSec}`;
  }
  out.push(
    'ratelimit-policy',
    policy,
    'ratelimit',
    state,
    'x-ratelimit-limit',
    String(tightest.limit),
    'x-ratelimit-remaining',
    String(tightest.remaining),
    'x-ratelimit-reset',
    String(tightest.resetSec),
  );
}

/** Policy names quoted so far: a policy file has a few dozen; past the bound the memory starts over. */
const quoted = new Map<string, string>();
const MAX_QUOTED = 10_000;

/** RFC 9651 sf-string: quoted, with `\` and `"` escaped (policy names are ASCII by validation). */
function sfString(value: string): string {
  let text = quoted.get(value);
  if (text === undefined) {
    text = `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    if (quoted.size >= MAX_QUOTED) quoted.clear();
    quoted.set(value, text);
  }
  return text;
}
