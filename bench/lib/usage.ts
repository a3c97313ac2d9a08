// The key distribution a gRPC run actually achieved, from decide.lua's usage counters per account.

import type { Redis } from 'ioredis';
import { fromDist } from './own-redis.js';
import { median } from './stats.js';

type UsageSourceModule = typeof import('../../src/usage/usage-source.js');

/** Allowed calls per account so far (decide.lua's usage hash, read as the flusher reads it). */
export async function usageCalls(redis: Redis, accountIds: string[]): Promise<number[]> {
  const { usageRows } = await fromDist<UsageSourceModule>('usage/usage-source.js');
  const pipeline = redis.pipeline();
  for (const id of accountIds) pipeline.hgetall(`{a:${id}}:usage`);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([, value]) =>
    usageRows((value ?? {}) as Record<string, string>).reduce((n, row) => n + row.calls, 0),
  );
}

export interface Distribution {
  keys: number;
  keysUsed: number;
  decisions: number;
  min: number;
  p10: number;
  median: number;
  p90: number;
  max: number;
}

export function distribution(before: number[], after: number[]): Distribution {
  const d = after.map((a, i) => a - before[i]!).sort((a, b) => a - b);
  const total = d.reduce((n, x) => n + x, 0);
  return {
    keys: d.length,
    keysUsed: d.filter((x) => x > 0).length,
    decisions: total,
    min: d[0]!,
    p10: d[Math.floor(d.length * 0.1)]!,
    median: median(d),
    p90: d[Math.floor(d.length * 0.9)]!,
    max: d[d.length - 1]!,
  };
}
