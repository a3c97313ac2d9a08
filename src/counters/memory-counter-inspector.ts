// Admin read of the in-process counters, shown under the Redis key names so both stores look alike.

import { accountTag, type CounterEntry, type CounterInspector } from './counter-inspector.js';
import type { MemoryCounterStore } from './memory-counter-store.js';

export class MemoryCounterInspector implements CounterInspector {
  constructor(private readonly store: MemoryCounterStore) {}

  async inspect(accountId: string): Promise<CounterEntry[]> {
    const { now, limits, quota, credits, usage } = this.store.snapshot(accountId);
    const tag = accountTag(accountId);
    const entries: CounterEntry[] = [];
    // One hash per account, as decide.lua keeps it: the quota and each limit's state (l:<id>:<field>).
    const fields: Record<string, number> = { ...quota?.value };
    let expiresAt = quota?.expiresAt ?? now;
    for (const [id, limit] of limits) {
      for (const [name, n] of Object.entries(limit.value)) fields[`l:${id}:${name}`] = n;
      expiresAt = Math.max(expiresAt, limit.expiresAt);
    }
    if (quota || limits.length > 0) entries.push(hash(`${tag}:quota`, fields, expiresAt - now));
    if (credits !== undefined)
      entries.push({ key: `${tag}:credits`, type: 'string', value: String(credits), pttlMs: null });
    if (Object.keys(usage).length > 0) entries.push(hash(`${tag}:usage`, usage, null));
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async close(): Promise<void> {}
}

function hash(key: string, value: Record<string, number>, pttlMs: number | null): CounterEntry {
  const fields: Record<string, string> = {};
  for (const [name, n] of Object.entries(value)) if (n !== undefined) fields[name] = String(n);
  return { key, type: 'hash', value: fields, pttlMs };
}
