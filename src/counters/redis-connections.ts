// Counters, Redis side: every connection Tollgate opens to Redis (single or Cluster), from one table of
// options, so a setting is changed in one place and each connection's role shows in CLIENT LIST.

import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { CountersConfig } from '../config.js';

export type RedisCounters = Exclude<CountersConfig, { kind: 'memory' }>;

/** The connections, by what runs on them: none queues behind, nor times out like, another. */
export type RedisRole = 'decisions' | 'background' | 'inspector' | 'health' | 'rls-windows';

/** Reconnect backoff cap (ms); ioredis defaults to 2 s, too long for "back within a second or so". */
const RECONNECT_CAP_MS = 1_000;
const RECONNECT_JITTER_MS = 250;
/** Background work may wait longer than a decision: a flush is not on the request path. */
const BACKGROUND_TIMEOUT_MS = 5_000;
/** ms an admin read may wait on Redis; generous, as it is not on the decision path. */
const INSPECT_TIMEOUT_MS = 2_000;

/**
 * Exponential reconnect delay with a cap and full jitter on top, so that many replicas losing the
 * same Redis do not reconnect in step (ioredis retries forever on this schedule; never per request).
 */
export function reconnectDelay(attempt: number): number {
  return (
    Math.min(RECONNECT_CAP_MS, 50 * 2 ** Math.min(attempt - 1, 10)) +
    Math.floor(Math.random() * RECONNECT_JITTER_MS)
  );
}

/** `timeoutMs` is REDIS_TIMEOUT_MS (decisions, RLS windows) or the readiness probe's bound (health). */
function optionsFor(role: RedisRole, timeoutMs: number): RedisOptions {
  const named = { lazyConnect: true, connectionName: `tollgate-${role}` };
  // Never re-sent: a retry after a reconnect could consume twice, and the caller has answered by then.
  // While disconnected, calls fail at once instead of queueing behind the reconnect.
  const once = {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    retryStrategy: reconnectDelay,
  };
  switch (role) {
    case 'decisions':
      return {
        ...named,
        ...once,
        // No per-command timer: on a busy event loop it fires while the reply waits unread in the
        // socket (a burst read as an outage). RedisCounterStore watches the connection instead.
        connectTimeout: Math.max(1000, timeoutMs),
        keepAlive: 30_000,
        // Auto-pipelining holds every command until setImmediate, so a burst reaches Redis as one
        // batch and Node idles while Redis works through it (and vice versa): HTTP /check went from
        // 26k to 39k decisions/s with it off. RedisCounterStore batches by replies instead.
        enableAutoPipelining: false,
      };
    case 'rls-windows':
      return { ...named, ...once, commandTimeout: timeoutMs, connectTimeout: Math.max(1000, timeoutMs) };
    case 'background':
      return {
        ...named,
        commandTimeout: BACKGROUND_TIMEOUT_MS,
        connectTimeout: BACKGROUND_TIMEOUT_MS,
        maxRetriesPerRequest: 1,
        enableAutoPipelining: true,
      };
    case 'inspector':
      return {
        ...named,
        commandTimeout: INSPECT_TIMEOUT_MS,
        connectTimeout: INSPECT_TIMEOUT_MS,
        maxRetriesPerRequest: 1,
      };
    case 'health':
      return {
        ...named,
        commandTimeout: timeoutMs,
        connectTimeout: timeoutMs,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
      };
  }
}

/** The same per-node options for a Cluster; its own retry and queue settings apply cluster-wide. */
function clusterOptions(node: RedisOptions): ClusterOptions {
  const { retryStrategy, enableOfflineQueue, enableAutoPipelining, ...perNode } = node;
  const options: ClusterOptions = { redisOptions: perNode, lazyConnect: true, slotsRefreshTimeout: 1000 };
  if (retryStrategy) options.clusterRetryStrategy = retryStrategy;
  if (enableOfflineQueue !== undefined) options.enableOfflineQueue = enableOfflineQueue;
  if (enableAutoPipelining !== undefined) options.enableAutoPipelining = enableAutoPipelining;
  return options;
}

/**
 * A lazy connection for `role` (call connect()). Errors are the caller's to observe: the client's
 * own 'error' events would only repeat what a failed call or probe already reports.
 */
export function openRedis(counters: RedisCounters, role: RedisRole, timeoutMs = 0): Redis | Cluster {
  const options = optionsFor(role, timeoutMs);
  return counters.kind === 'redis-cluster'
    ? new Cluster(counters.nodes, clusterOptions(options))
    : new Redis(counters.url, options);
}
