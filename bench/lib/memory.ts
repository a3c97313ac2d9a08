// Sidecar memory: RSS (from /proc) and V8 heap used (Tollgate's /metrics) after an idle settle, so
// the garbage of the load before is collected by V8's idle-time GCs (its memory reducer starts ~8 s
// after the allocation rate drops) — no --expose-gc needed.

import type postgres from 'postgres';
import { warmKeys } from './load.js';
import { rssKiB, sleep } from './procs.js';
import type { Report } from './report.js';
import { median } from './stats.js';
import { insertKeys } from './stores.js';
import { countersDelta, tollgateCounters } from './tollgate-metrics.js';

type Sql = postgres.Sql;

/** The found-key cache's bound (CachedKeyStore maxEntries default, src/keys/cached-key-store.ts). */
export const KEY_CACHE_MAX = 100_000;

export interface MemoryReading {
  /** Median of the RSS samples of the last 5 s of the settle. */
  rssKiB: number;
  /** Spread (max − min) of those samples: the noise floor of the figure. */
  rssSpreadKiB: number;
  heapUsedBytes: number;
  /** ms actually idled (more than asked while the heap was still shrinking). */
  settledMs: number;
}

/**
 * Idles at least `settleMs`, sampling RSS every second and the heap every 5 s; goes on (up to 3 ×
 * settleMs) while the heap still shrinks by more than 1% per 5 s.
 */
export async function settledMemory(pid: number, httpPort: number, settleMs: number): Promise<MemoryReading> {
  const t0 = Date.now();
  const rss: number[] = [];
  let heap = (await tollgateCounters(httpPort)).heapUsedBytes;
  let lastHeapAt = Date.now();
  let shrinking = true;
  for (;;) {
    rss.push(rssKiB(pid));
    const elapsed = Date.now() - t0;
    if (Date.now() - lastHeapAt >= 5000) {
      const now = (await tollgateCounters(httpPort)).heapUsedBytes;
      shrinking = now < heap * 0.99;
      heap = now;
      lastHeapAt = Date.now();
    }
    if (elapsed >= settleMs && (!shrinking || elapsed >= 3 * settleMs)) break;
    await sleep(1000);
  }
  const last = rss.slice(-6);
  return {
    rssKiB: median(last),
    rssSpreadKiB: Math.max(...last) - Math.min(...last),
    heapUsedBytes: (await tollgateCounters(httpPort)).heapUsedBytes,
    settledMs: Date.now() - t0,
  };
}

/**
 * RSS and heap with `count` more keys in the key cache: a reading after the idle before, the keys
 * inserted and looked up once each through /check, a reading after an idle settle.
 */
export async function measureKeyCache(opts: {
  pid: number;
  httpPort: number;
  db: Sql;
  accountIds: string[];
  count: number;
  cachedBefore: number;
  settleMs: number;
}): Promise<NonNullable<Report['memory']>> {
  const before = await settledMemory(opts.pid, opts.httpPort, Math.min(opts.settleMs, 6000));
  const keys = await insertKeys(opts.db, opts.accountIds, opts.count);
  const loadsBefore = await tollgateCounters(opts.httpPort);
  const t0 = Date.now();
  const warm = await warmKeys(opts.httpPort, keys, 64);
  const warmSeconds = (Date.now() - t0) / 1000;
  const keyLoadsDuringWarm = countersDelta(loadsBefore, await tollgateCounters(opts.httpPort)).keyLoads;
  const after = await settledMemory(opts.pid, opts.httpPort, opts.settleMs);
  const cachedAfter = Math.min(KEY_CACHE_MAX, opts.cachedBefore + keyLoadsDuringWarm);
  const added = Math.max(1, cachedAfter - opts.cachedBefore);
  return {
    keysWarmed: opts.count,
    cacheEntriesBefore: opts.cachedBefore,
    cacheEntriesAfter: cachedAfter,
    cacheEntriesNote: `/metrics does not expose the key cache's size: entries = bench keys cached before + key loads during the warm (tollgate_store_duration_seconds_count{store="postgres",operation="find_key"}), capped at the cache bound ${KEY_CACHE_MAX.toLocaleString('en-US')}`,
    keyLoadsDuringWarm,
    rssBeforeMiB: before.rssKiB / 1024,
    rssAfterMiB: after.rssKiB / 1024,
    rssSpreadKiB: Math.max(before.rssSpreadKiB, after.rssSpreadKiB),
    heapUsedBeforeMiB: before.heapUsedBytes / 2 ** 20,
    heapUsedAfterMiB: after.heapUsedBytes / 2 ** 20,
    rssBytesPerCachedKey: ((after.rssKiB - before.rssKiB) * 1024) / added,
    heapBytesPerCachedKey: (after.heapUsedBytes - before.heapUsedBytes) / added,
    coldLookupsPerSecond: opts.count / warmSeconds,
    warm,
    settleMs: after.settledMs,
  };
}
