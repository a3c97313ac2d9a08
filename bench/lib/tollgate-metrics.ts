// Tollgate's own counters from GET /metrics (Prometheus text): decides, key loads, key-cache
// lookups, decisions, RSS and heap. Names as in src/observability/metrics.ts.

export interface TollgateCounters {
  /** CounterStore.decide calls on Redis (one per ext_authz / HTTP decision with a known key, one per limited RLS descriptor). */
  decides: number;
  /** tollgate_decisions_total, every transport and outcome (ext_authz and /check; RLS is not a "decision" there). */
  decisions: number;
  /** Postgres key loads behind the key cache (find_key): misses plus refresh-ahead renewals. */
  keyLoads: number;
  /** Key-cache lookups that waited on a load (the decision waited on Postgres). */
  keyMisses: number;
  keyHits: number;
  keyNegativeHits: number;
  /** Key-cache misses the key filter answered "unknown" without a Postgres lookup. */
  keyFilterRefused: number;
  /** Lookups of unknown keys the key filter let through (its false positives): the Postgres cost of unknown keys. */
  keyFilterFalsePositives: number;
  rssBytes: number;
  heapUsedBytes: number;
}

type Sample = { name: string; labels: Record<string, string>; value: number };

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function sum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const s of samples)
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) n += s.value;
  return n;
}

export async function tollgateCounters(httpPort: number): Promise<TollgateCounters> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
  const s = parse(await res.text());
  return {
    decides: sum(s, 'tollgate_store_duration_seconds_count', { store: 'redis', operation: 'decide' }),
    decisions: sum(s, 'tollgate_decisions_total'),
    keyLoads: sum(s, 'tollgate_store_duration_seconds_count', { store: 'postgres', operation: 'find_key' }),
    keyMisses: sum(s, 'tollgate_key_cache_total', { result: 'miss' }),
    keyHits: sum(s, 'tollgate_key_cache_total', { result: 'hit' }),
    keyNegativeHits: sum(s, 'tollgate_key_cache_total', { result: 'negative_hit' }),
    keyFilterRefused: sum(s, 'tollgate_key_filter_total', { result: 'refused' }),
    keyFilterFalsePositives: sum(s, 'tollgate_key_filter_total', { result: 'false_positive' }),
    rssBytes: sum(s, 'process_resident_memory_bytes'),
    heapUsedBytes: sum(s, 'nodejs_heap_size_used_bytes'),
  };
}

/** after − before, field by field (RSS and heap: the after value). */
export function countersDelta(before: TollgateCounters, after: TollgateCounters): TollgateCounters {
  return {
    decides: after.decides - before.decides,
    decisions: after.decisions - before.decisions,
    keyLoads: after.keyLoads - before.keyLoads,
    keyMisses: after.keyMisses - before.keyMisses,
    keyHits: after.keyHits - before.keyHits,
    keyNegativeHits: after.keyNegativeHits - before.keyNegativeHits,
    keyFilterRefused: after.keyFilterRefused - before.keyFilterRefused,
    keyFilterFalsePositives: after.keyFilterFalsePositives - before.keyFilterFalsePositives,
    rssBytes: after.rssBytes,
    heapUsedBytes: after.heapUsedBytes,
  };
}
