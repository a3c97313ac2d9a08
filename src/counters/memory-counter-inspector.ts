// Admin read of the in-process counters, shown under the Redis key names so both stores look alike.

import { accountTag, type CounterEntry, type CounterInspector } from './counter-inspector.js';
import type { MemoryCounterStore } from './memory-counter-store.js';

export class MemoryCounterInspector implements CounterInspector {
  constructor(private readonly store: MemoryCounterStore) {}

  async inspect(accountId: string): Promise<CounterEntry[]> {
    const { now, limits, quota, credits, usage } = this.store.snapshot(accountId);
    const tag = accountTag(accountId);
    const entries: CounterEntry[] = [];
    if (quota) entries.push(hash(`${tag}:quota`, quota.value, quota.expiresAt - now));
    if (credits !== undefined)
      entries.push({ key: `${tag}:credits`, type: 'string', value: String(credits), pttlMs: null });
    if (Object.keys(usage).length > 0) entries.push(hash(`${tag}:usage`, usage, null));
    for (const [id, limit] of limits)
      entries.push(hash(`${tag}:l:${id}`, limit.value, limit.expiresAt - now));
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async close(): Promise<void> {}
}

function hash(key: string, value: Record<string, number>, pttlMs: number | null): CounterEntry {
  const fields: Record<string, string> = {};
  for (const [name, n] of Object.entries(value)) if (n !== undefined) fields[name] = String(n);
  return { key, type: 'hash', value: fields, pttlMs };
}
