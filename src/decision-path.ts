// Composition of the decision path: policy, key cache, counter store and the core use case, observed once.

import type { CheckAccess } from './access/check-access.js';
import { createCheckAccess } from './access/create-check-access.js';
import type { Config } from './config.js';
import type { CounterStore } from './counters/counter-store.js';
import { boundInflight } from './counters/inflight-bound.js';
import { MemoryCounterStore } from './counters/memory-counter-store.js';
import { openCounterStore, type OpenedCounterStore } from './counters/open-counter-store.js';
import type { Sql } from './db/sql.js';
import { CachedKeyStore } from './keys/cached-key-store.js';
import { FilteredKeyStore } from './keys/filtered-key-store.js';
import { SqlKeyStore } from './keys/sql-key-store.js';
import type { Logger } from './logger.js';
import type { Metrics } from './observability/metrics.js';
import { CountedAccounts } from './usage/counted-accounts.js';
import { DenialTally } from './usage/denial-tally.js';
import { observeCheckAccess } from './observability/observe-check-access.js';
import { observeCounterStore } from './observability/observe-counter-store.js';
import { observeKeyStore } from './observability/observe-key-store.js';
import { PolicyHolder } from './policy/policy-holder.js';
import type { ReservationStore } from './metering/reservation-settler.js';

/** How often the policy is re-read from Postgres even without a change notification (the safety net). */
const POLICY_REFRESH_MS = 30_000;

export interface DecisionPath {
  checkAccess: CheckAccess;
  policy: PolicyHolder;
  /** The counter store behind checkAccess (timed when observed, bounded by MAX_INFLIGHT), also used by Envoy's rate-limit service. */
  counters: CounterStore;
  /** Whether the store answers in a failure mode (FAILURE_MODE open/local), for the degraded gauge. */
  degraded: OpenedCounterStore;
  /** Metered calls' reservations: settle, list (the same counters as checkAccess). */
  reservations: ReservationStore;
  /** The key cache, invalidated by change notifications. */
  keys: CachedKeyStore;
  /** The filter of stored key hashes behind the cache (serve only), kept current by change notifications. */
  keyFilter?: FilteredKeyStore;
  /** The in-process counters when no Redis is configured (the usage flusher drains the same one). */
  memory: MemoryCounterStore | undefined;
  /** With Redis: the accounts this process counted usage for, which the usage flusher visits. */
  counted: CountedAccounts | undefined;
  /** Denials per account and reason since the last flush (written by the usage flusher's timer). */
  denials: DenialTally;
  close(): Promise<void>;
}

/**
 * Policy, key cache and counter store behind one CheckAccess; also used by `tollgate check`.
 * With `metrics`, the core and its stores are wrapped once in the recording decorators.
 */
export async function createDecisionPath(
  config: Config,
  sql: Sql,
  logger: Logger,
  metrics?: Metrics,
): Promise<DecisionPath> {
  const policy = await PolicyHolder.load(
    sql,
    logger,
    POLICY_REFRESH_MS,
    metrics && ((p) => metrics.setPolicy(p)),
  );
  if (policy.tierCount === 0)
    logger.warn('no policy stored yet: apply one with `tollgate apply <policy.yaml>` or POLICY_FILE');
  const memory = config.counters.kind === 'memory' ? new MemoryCounterStore({}) : undefined;
  const counted = memory ? undefined : new CountedAccounts();
  const onScriptFallback = metrics && (() => metrics.setScriptFallback());
  const embedded = memory
    ? { memory, logger }
    : { logger, counted, ...(onScriptFallback && { onScriptFallback }) };
  const opened = await openCounterStore(config, embedded).catch((err) => {
    policy.close();
    throw err;
  });
  const sqlKeys = new SqlKeyStore(sql, { timeoutMs: config.pgTimeoutMs });
  const denials = new DenialTally();
  const base = {
    policy,
    degraded: opened,
    reservations: opened.reservations,
    memory,
    counted,
    denials,
    close: () => closeDecisionPath(policy, opened),
  };
  if (!metrics) {
    const keys = new CachedKeyStore({ inner: sqlKeys });
    const counters = boundInflight(opened, config.maxInflight);
    return {
      ...base,
      checkAccess: createCheckAccess({ keys, policy: () => policy.current, counters }),
      counters,
      keys,
    };
  }
  const counters = boundInflight(
    observeCounterStore(opened, config.counters.kind === 'memory' ? 'memory' : 'redis', metrics),
    config.maxInflight,
    () => metrics.overloaded.inc(),
  );
  // Serving: unknown keys are refused by the filter, so a flood of random keys costs no Postgres lookups.
  const keyFilter = await FilteredKeyStore.open({
    inner: observeKeyStore(sqlKeys, metrics),
    sql,
    onResult: (result) => metrics.keyFilter.get(result).value++,
  }).catch(async (err) => {
    await base.close();
    throw err;
  });
  const keys = new CachedKeyStore({
    inner: keyFilter,
    onLookup: (result) => metrics.keyCache.get(result).value++,
  });
  const inner = createCheckAccess({ keys, policy: () => policy.current, counters });
  return {
    ...base,
    checkAccess: observeCheckAccess({ inner, metrics, logger, denials }),
    counters,
    keys,
    keyFilter,
  };
}

async function closeDecisionPath(policy: PolicyHolder, counters: { close(): Promise<void> }): Promise<void> {
  policy.close();
  await counters.close();
}
