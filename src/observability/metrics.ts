// Metrics: the own prom-client Registry and every Tollgate metric. Recorded by the decorators around
// CheckAccess, the CounterStore and the Postgres key store — never by the transports. No label is ever
// per key, account or path: tiers, policies and endpoints are bounded by the policy.

import { Counter, Gauge, Registry } from 'prom-client';
import type { Transport } from '../access/access-request.js';
import type { Decision } from '../access/decision.js';
import { QUOTA_POLICY } from '../access/decision-from-counters.js';
import type { Policy } from '../policy/policy.js';
import { exportMetrics } from './export-metrics.js';
import { registerBuildInfo } from './build-info.js';
import { counterCells } from './counter-cells.js';
import { histogramCells } from './histogram-cells.js';
import { collectProcessMetrics } from './process-metrics.js';
import { rlsMetrics } from './rls-metrics.js';

/** Seconds; resolves tenths of a millisecond where an in-memory or local-Redis decision lands. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
] as const;
/** An allowed decision that leaves at most this share of a policy counts as near its limit. */
const NEAR_LIMIT_SHARE = 0.2;
const NONE = 'none';

export type StoreName = 'redis' | 'memory' | 'postgres';
export type KeyCacheResult = 'hit' | 'miss' | 'negative_hit';
export type ErrorReason = 'unavailable' | 'overloaded' | 'internal';

export class Metrics {
  readonly registry = new Registry();
  readonly decisions = counterCells(
    this.registry,
    'tollgate_decisions_total',
    'Access decisions by transport, outcome (allowed|denied|error), reason, tier and endpoint.',
    ['transport', 'outcome', 'reason', 'tier', 'endpoint'],
  );
  readonly decisionDuration = histogramCells(
    this.registry,
    'tollgate_decision_duration_seconds',
    'Time to decide one request, key lookup to counters, in seconds.',
    ['transport'],
    LATENCY_BUCKETS,
  );
  readonly storeErrors = counterCells(
    this.registry,
    'tollgate_store_errors_total',
    'Failed calls to a backing store (Redis, Postgres, in-process counters).',
    ['store'],
  );
  readonly storeDuration = histogramCells(
    this.registry,
    'tollgate_store_duration_seconds',
    'Duration of store calls on the decision path, in seconds.',
    ['store', 'operation'],
    LATENCY_BUCKETS,
  );
  readonly keyCache = counterCells(
    this.registry,
    'tollgate_key_cache_total',
    'API key cache lookups by result (hit|miss|negative_hit).',
    ['result'],
  );
  readonly keyFilter = counterCells(
    this.registry,
    'tollgate_key_filter_total',
    'Key cache misses the key filter answered: refused ("unknown" without a Postgres lookup) or false_positive (looked up, unknown).',
    ['result'],
  );
  readonly shadowDenied = counterCells(
    this.registry,
    'tollgate_shadow_denied_total',
    'Decisions a shadow-mode policy would have denied.',
    ['tier', 'policy'],
  );
  readonly nearLimit = counterCells(
    this.registry,
    'tollgate_near_limit_total',
    'Allowed decisions that left at most 20% of a policy.',
    ['tier', 'policy'],
  );
  /** Inbound Stripe webhooks (src/payments/): type is one of Stripe's event types, bounded by what the endpoint subscribes to. */
  readonly billingEvents = counterCells(
    this.registry,
    'tollgate_billing_events_total',
    'Stripe webhook events by type and result (applied|ignored|failed|unknown_customer|duplicate|rejected).',
    ['type', 'result'],
  );
  /** Envoy ext_proc streams (transports/grpc/ext-proc.ts): how the usage was learned, what the settle did. */
  readonly extProcStreams = counterCells(
    this.registry,
    'tollgate_ext_proc_streams_total',
    'ext_proc streams by usage (body|header|missing|unreadable|incomplete|none) and settle result (settled|already_settled|unknown|failed|skipped); missing, unreadable and incomplete settle at the reservation.',
    ['usage', 'result'],
  );
  /** Calls shed past MAX_INFLIGHT; recordShed() bumps it (only ever on the shedding path). */
  readonly overloaded = new Counter({
    name: 'tollgate_overloaded_total',
    help: 'Calls shed because MAX_INFLIGHT decisions were already in flight (code overloaded), any transport.',
    registers: [this.registry],
  });
  /** The outbox exporter's lag, failures and deliveries. */
  readonly exports = exportMetrics(this.registry);
  /** envoyproxy/ratelimit's per-rule stats and config loads. */
  readonly rls = rlsMetrics(this.registry);
  private readonly degraded = new Gauge({
    name: 'tollgate_degraded',
    help: '1 while decisions run in a failure mode (Redis unreachable), else 0.',
    registers: [this.registry],
  });
  private readonly scriptFallback = new Gauge({
    name: 'tollgate_redis_scripts_fallback',
    help: '1 once Redis refused Functions (FCALL or FUNCTION LOAD: a Redis before 7.0, or an ACL) and decisions went to EVALSHA scripts, which cost Redis more per decision; else 0.',
    registers: [this.registry],
  });
  private readonly usageFlushLag = new Gauge({
    name: 'tollgate_usage_flush_lag_seconds',
    help: 'Age of the oldest usage not yet flushed to Postgres, in seconds.',
    registers: [this.registry],
  });
  private readonly policyLimit = new Gauge({
    name: 'tollgate_policy_limit',
    help: 'Configured limit per tier and policy (monthly-quota in units); endpoint * for tier-wide limits.',
    labelNames: ['tier', 'policy', 'endpoint'] as const,
    registers: [this.registry],
  });

  /** commit: the build's commit (config.buildCommit), a label of tollgate_build_info. */
  constructor(options: { processMetrics?: boolean; commit?: string } = {}) {
    if (options.processMetrics ?? true) collectProcessMetrics(this.registry);
    registerBuildInfo(this.registry, options.commit ?? 'unknown');
    this.degraded.set(0);
    this.scriptFallback.set(0);
    this.usageFlushLag.set(0);
  }

  recordDecision(transport: Transport, decision: Decision, seconds: number): void {
    const tier = decision.identity?.tier ?? NONE;
    const endpoint = decision.endpoint ?? NONE;
    if (decision.allowed) this.decisions.get(transport, 'allowed', 'ok', tier, endpoint).value++;
    else this.decisions.get(transport, 'denied', decision.code, tier, endpoint).value++;
    this.decisionDuration.get(transport).observe(seconds);
    const { shadowDenied, policies } = decision;
    for (let i = 0; i < shadowDenied.length; i++) this.shadowDenied.get(tier, shadowDenied[i]!).value++;
    if (!decision.allowed) return;
    for (let i = 0; i < policies.length; i++) {
      const policy = policies[i]!;
      if (policy.remaining <= policy.limit * NEAR_LIMIT_SHARE) this.nearLimit.get(tier, policy.name).value++;
    }
  }

  /** RLS has no account: tier is `none` and the endpoint label carries the (configured) domain. */
  recordRlsDecision(
    domain: string,
    code: 'ok' | 'rate_limit_exceeded' | 'invalid_argument',
    seconds: number,
  ): void {
    this.decisions.get('rls', code === 'ok' ? 'allowed' : 'denied', code, NONE, domain).value++;
    this.decisionDuration.get('rls').observe(seconds);
  }

  recordError(transport: Transport, reason: ErrorReason, seconds: number): void {
    this.decisions.get(transport, 'error', reason, NONE, NONE).value++;
    this.decisionDuration.get(transport).observe(seconds);
  }

  setDegraded(degraded: boolean): void {
    this.degraded.set(degraded ? 1 : 0);
  }

  /** Redis refused Functions for good (the store logs why, once). */
  setScriptFallback(): void {
    this.scriptFallback.set(1);
  }

  setUsageFlushLag(seconds: number): void {
    this.usageFlushLag.set(seconds);
  }

  /** Called on every policy (re)load: limits of removed tiers or policies disappear. */
  setPolicy(policy: Policy): void {
    this.policyLimit.reset();
    for (const tier of Object.values(policy.tiers)) {
      for (const rule of tier.limits)
        this.policyLimit.set({ tier: tier.name, policy: rule.name, endpoint: '*' }, rule.limit);
      if (tier.quota)
        this.policyLimit.set({ tier: tier.name, policy: QUOTA_POLICY, endpoint: '*' }, tier.quota.units);
    }
    for (const endpoint of policy.endpoints) {
      for (const [tier, override] of Object.entries(endpoint.overrides)) {
        for (const rule of override.limits)
          this.policyLimit.set({ tier, policy: rule.name, endpoint: endpoint.name }, rule.limit);
      }
    }
  }
}
