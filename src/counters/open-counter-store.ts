// CountersConfig → CounterStore: Redis (single or Cluster) behind FAILURE_MODE, or in-process counters.

import type { Config } from '../config.js';
import { StoreUnavailable } from '../errors.js';
import type { CounterStore, DegradedState } from './counter-store.js';
import { FailSafeCounterStore } from './fail-safe-counter-store.js';
import { MemoryCounterStore } from './memory-counter-store.js';
import { OverLimitCache } from './over-limit-cache.js';
import { openRedis } from './redis-connections.js';
import { RedisCounterStore } from './redis-counter-store.js';
import type { UsageSource } from '../usage/usage-source.js';
import type { Logger } from '../logger.js';
import { failSafeReservations } from '../metering/fail-safe-reservations.js';
import type { ReservationStore } from '../metering/reservation-settler.js';
import type { CountedAccounts } from '../usage/counted-accounts.js';

/** The store checkAccess uses, plus whether it currently answers in a failure mode (the degraded gauge). */
export type OpenedCounterStore = CounterStore &
  DegradedState & {
    /**
     * FAILURE_MODE=local: the per-replica counters. The calls they allow are usage: the flusher drains
     * them to Postgres like Redis' (exactly once per batch id), also at shutdown.
     */
    insurance?: UsageSource;
  };

/** Where metered calls' reservations are settled and listed: the same counters. */
export interface WithReservations {
  reservations: ReservationStore;
}

/**
 * `memory`: the in-process store to use when no Redis is configured (so the usage flusher can drain the
 * same one); `logger`: where decisions taken back after a late reply are reported; `counted`: told the
 * accounts whose usage Redis holds, so the usage flusher visits only those; `onScriptFallback`: told
 * once if Redis refuses Functions (the metrics' gauge).
 */
export async function openCounterStore(
  config: Readonly<Config>,
  embedded: {
    memory?: MemoryCounterStore;
    logger?: Logger;
    counted?: CountedAccounts;
    onScriptFallback?: () => void;
  } = {},
): Promise<OpenedCounterStore & WithReservations> {
  const { counters } = config;
  if (counters.kind === 'memory') {
    const memory = embedded.memory ?? new MemoryCounterStore({});
    return Object.assign(withOverLimitCache(config, neverDegraded(memory)), { reservations: memory });
  }
  const redis = openRedis(counters, 'decisions', config.redisTimeoutMs);
  // Failures reach decisions as StoreUnavailable and the degraded state; the client's events would only repeat them.
  // The last one is kept: ioredis rejects connect() with a bare "Connection is closed." that hides why.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  const local = config.failureMode === 'local' ? new MemoryCounterStore({}) : undefined;
  const inner = new RedisCounterStore({
    redis,
    timeoutMs: config.redisTimeoutMs,
    ...(embedded.counted ? { counted: embedded.counted } : {}),
    onStall: (cause) => store.markUnavailable(cause),
    onUncount: (decisions, err) =>
      err === undefined
        ? embedded.logger?.warn({ decisions }, `uncounted ${decisions} late-executed decisions`)
        : embedded.logger?.error({ decisions, err }, 'uncounting late-executed decisions failed'),
    onScriptFallback: (answer) => {
      embedded.logger?.warn(
        { answer },
        'Redis refused Functions: decisions go as EVALSHA scripts (a lone decision costs Redis about 2.5x)',
      );
      embedded.onScriptFallback?.();
    },
  });
  const store: FailSafeCounterStore = new FailSafeCounterStore({
    inner,
    mode: config.failureMode,
    timeoutMs: config.redisTimeoutMs,
    probe: () => inner.ping(),
    ...(local ? { local } : {}),
  });
  try {
    await redis.connect();
  } catch (err) {
    // closed: refuse to start against a Redis that is not there (a wrong REDIS_URL shows at once).
    // open / local: start degraded; ioredis keeps reconnecting and the probe ends the degraded state.
    if (config.failureMode === 'closed') {
      redis.disconnect();
      const why = lastError ?? (err as Error);
      throw new StoreUnavailable('redis', `cannot connect: ${why.message}`, { cause: why });
    }
    store.startDegraded();
  }
  const opened = Object.assign(withOverLimitCache(config, store), {
    reservations: failSafeReservations(inner, local),
  });
  return local ? Object.assign(opened, { insurance: local }) : opened;
}

function withOverLimitCache(config: Readonly<Config>, store: OpenedCounterStore): OpenedCounterStore {
  return config.overLimitCache ? new OverLimitCache({ inner: store }) : store;
}

function neverDegraded(store: CounterStore): OpenedCounterStore {
  return Object.assign(store, { degraded: false as const, onChange: () => () => {} });
}
