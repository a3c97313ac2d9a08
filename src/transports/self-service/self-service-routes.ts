// HTTP listener (HTTP_PORT) → GET /v1/me and /v1/usage: API consumers read their own account and usage
// with their own key. Not charged to their quota: a small fixed per-key limit only, counted by the
// CounterStore with `endpoint: ''` (counters only, no usage record), `units: 0`, no quota, no credits.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Decision, Denied } from '../../access/decision.js';
import { creditBalance } from '../../accounts/credits.js';
import { readUsage, usageTotals } from '../../billing/usage-report.js';
import { billingPeriod } from '../../billing/billing-period.js';
import type { CounterInspector } from '../../counters/counter-inspector.js';
import type { CounterStore, DecideInput } from '../../counters/counter-store.js';
import type { Sql } from '../../db/sql.js';
import { PREFIX_LENGTH } from '../../keys/api-key.js';
import { KEY_DETAILS, verifyKey } from '../../keys/verify-key.js';
import type { KeyRecord, KeyStore } from '../../keys/key-store.js';
import type { PolicyResolver } from '../../policy/policy-resolver.js';
import type { Policy } from '../../policy/policy.js';
import { accessRequestFromHeaders } from '../access-request-from-headers.js';
import { renderDecision } from '../headers.js';
import type { HttpRoute } from '../http/http-server.js';
import { sendJson, sendProblem } from '../http/send-problem.js';

/** Calls per minute per key to the self-service routes. */
export const SELF_SERVICE_LIMIT = 60;
/** The counter id within the account (fields `l:self:<key id>:…`): apart from every policy limit id (`t:…`, `e:…`). */
const limitId = (keyId: string) => `self:${keyId}`;

export interface SelfServiceOptions {
  /** The decision path's (cached) key store, so revocations reach these routes as fast as /check. */
  keys: KeyStore;
  counters: CounterStore;
  sql: Sql;
  policy: () => PolicyResolver;
  /** Live quota use for /v1/me; without it, the flushed usage in Postgres. */
  inspector?: CounterInspector;
  limitPerMinute?: number;
  now?: () => number;
}

interface Caller {
  record: KeyRecord;
  prefix: string;
  period: { startMs: number; endMs: number };
}

export function createSelfServiceRoutes(options: SelfServiceOptions): Record<string, HttpRoute> {
  const { sql, now = Date.now } = options;
  return {
    '/v1/me': guard(async (caller, res) => {
      const { record } = caller;
      const tier = options.policy().policy.tiers[record.tier];
      const quota = tier?.quota
        ? { limit: tier.quota.units, used: await quotaUsed(options, caller), overage: tier.quota.overage }
        : null;
      const body = {
        account_id: record.accountId,
        tier: record.tier,
        status: record.accountStatus,
        key: {
          id: record.keyId,
          prefix: caller.prefix,
          expires_at: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString(),
        },
        quota: quota && { ...quota, remaining: Math.max(0, quota.limit - quota.used) },
        limits: (tier?.limits ?? []).map((l) => ({
          name: l.name,
          algorithm: l.algorithm,
          limit: l.limit,
          window_seconds: l.windowMs / 1000,
          ...(l.unit ? { unit: l.unit } : {}),
        })),
        // Endpoints billed by units known after the answer: what a call reserves, and in what.
        metered: meteredEndpoints(options.policy().policy, record.tier),
        credits:
          tier && tier.creditsPerRequest > 0
            ? { balance: await creditBalance(sql, record.accountId), per_unit: tier.creditsPerRequest }
            : null,
        period: periodJson(caller.period),
      };
      sendJson(res, 200, body);
    }),
    '/v1/usage': guard(async (caller, res) => {
      const endpoints = await readUsage(
        sql,
        caller.record.accountId,
        caller.period.startMs,
        caller.period.endMs,
      );
      sendJson(res, 200, {
        account_id: caller.record.accountId,
        period: periodJson(caller.period),
        endpoints,
        totals: usageTotals(endpoints),
      });
    }),
  };

  /** Key check, then the small limit; the handler runs only for a known key within its limit. */
  function guard(handler: (caller: Caller, res: ServerResponse) => Promise<void>): HttpRoute {
    return async (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return sendProblem(res, 405, 'method_not_allowed', 'Method not allowed', 'Use GET.', [
          'allow',
          'GET',
        ]);
      const request = accessRequestFromHeaders('http', req.headers, 'GET', req.url ?? '/');
      const verdict = await verifyKey(options.keys, request.apiKey, now());
      if (!verdict.valid) return deny(res, verdict.code, KEY_DETAILS[verdict.code]);
      const { record } = verdict;
      const decision = await selfServiceLimit(
        options.counters,
        record,
        options.limitPerMinute ?? SELF_SERVICE_LIMIT,
      );
      const rendered = renderDecision(decision, { keyHeader: undefined, spoofedHeaders: [] });
      if (!decision.allowed) {
        res.writeHead(
          429,
          rendered.clientHeaders.flat().concat(['content-length', String(Buffer.byteLength(rendered.body))]),
        );
        return void res.end(rendered.body);
      }
      for (const [name, value] of rendered.clientHeaders) res.setHeader(name, value);
      const period = billingPeriod(now(), record.billingAnchorDay);
      await handler({ record, prefix: request.apiKey!.slice(0, PREFIX_LENGTH), period }, res);
    };
  }
}

function meteredEndpoints(policy: Policy, tier: string) {
  return policy.endpoints
    .filter((e) => e.metering && e.overrides[tier]?.allowed !== false)
    .map(({ name, metering }) => ({
      endpoint: name,
      unit: metering!.unit,
      reserve: metering!.reserve,
      max_reserve: metering!.maxReserve,
      reserve_header: metering!.reserveHeader ?? null,
      settle_within_seconds: metering!.settleWithinMs / 1000,
    }));
}

/** One counters-only decision on the key's own limit, as a Decision so the usual headers render it. */
async function selfServiceLimit(
  counters: CounterStore,
  record: KeyRecord,
  perMinute: number,
): Promise<Decision> {
  const result = await counters.decide(limitInput(record, perMinute));
  const limit = result.limits[0]!;
  const policies = [
    {
      name: 'self-service',
      kind: 'rate' as const,
      limit: perMinute,
      windowSec: 60,
      remaining: limit.remaining,
      resetSec: Math.ceil(limit.resetMs / 1000),
    },
  ];
  const identity = { accountId: record.accountId, keyId: record.keyId, tier: record.tier };
  if (result.allowed)
    return { allowed: true, identity, endpoint: '', overage: false, policies, shadowDenied: [] };
  const retryAfterSec = Math.max(1, Math.ceil(limit.retryAfterMs / 1000));
  return {
    allowed: false,
    code: 'rate_limit_exceeded',
    status: 429,
    detail: `At most ${perMinute} self-service calls per minute per key.`,
    identity,
    policies,
    violated: ['self-service'],
    shadowDenied: [],
    retryAfterSec,
  };
}

function limitInput(record: KeyRecord, perMinute: number): DecideInput {
  return {
    accountId: record.accountId,
    limits: [
      {
        id: limitId(record.keyId),
        name: 'self-service',
        algorithm: 'sliding_window',
        limit: perMinute,
        windowMs: 60_000,
        shadow: false,
        hits: 1,
      },
    ],
    anchorDay: record.billingAnchorDay,
    units: 0,
    quota: null,
    credits: null,
    endpoint: '',
  };
}

/** Quota units used this period: the live counter when it is for this period, else the flushed usage. */
async function quotaUsed(options: SelfServiceOptions, caller: Caller): Promise<number> {
  const { accountId } = caller.record;
  const live = (await options.inspector?.inspect(accountId))?.find((c) => c.key.endsWith(':quota'))?.value;
  if (live && typeof live === 'object' && Number(live.p) === caller.period.startMs)
    return Number(live.u ?? 0);
  return usageTotals(await readUsage(options.sql, accountId, caller.period.startMs, caller.period.endMs))
    .units;
}

function periodJson(period: { startMs: number; endMs: number }) {
  return { start: new Date(period.startMs).toISOString(), end: new Date(period.endMs).toISOString() };
}

function deny(res: ServerResponse, code: 'missing_api_key' | 'invalid_api_key', detail: string): void {
  const denied: Denied = {
    allowed: false,
    code,
    status: 401,
    detail,
    policies: [],
    violated: [],
    shadowDenied: [],
  };
  const rendered = renderDecision(denied, { keyHeader: undefined, spoofedHeaders: [] });
  res.writeHead(
    401,
    rendered.clientHeaders.flat().concat(['content-length', String(Buffer.byteLength(rendered.body))]),
  );
  res.end(rendered.body);
}
