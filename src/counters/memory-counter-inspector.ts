// Admin read of the in-process counters, shown under the Redis key names so both stores look alike.
//
// MemoryCounterStore keeps its state private; this reads it through the structural view below (the
// store's field names) and fails loudly if they change. A public snapshot method on the store would
// be the cleaner seam — left to the counter stores' owner.

import { accountTag, type CounterEntry, type CounterInspector } from './counter-inspector.js';
import type { MemoryCounterStore } from './memory-counter-store.js';

interface Expiring {
  value: Record<string, number>;
  /** ms on the store's clock. */
  expiresAt: number;
}

interface MemoryState {
  now: () => number;
  /** `${accountId}\n${limitId}` → state */
  limits: Map<string, Expiring>;
  /** accountId → { p, u } */
  quotas: Map<string, Expiring>;
  credits: Map<string, number>;
  usage: Map<string, Map<string, number>>;
}

export class MemoryCounterInspector implements CounterInspector {
  private readonly state: MemoryState;

  constructor(store: MemoryCounterStore) {
    const state = store as unknown as Partial<MemoryState>;
    if (
      !(
        state.limits instanceof Map &&
        state.quotas instanceof Map &&
        state.credits instanceof Map &&
        state.usage instanceof Map &&
        typeof state.now === 'function'
      )
    ) {
      throw new Error(
        'MemoryCounterInspector: MemoryCounterStore no longer has the fields it reads (limits, quotas, credits, usage, now)',
      );
    }
    this.state = state as MemoryState;
  }

  async inspect(accountId: string): Promise<CounterEntry[]> {
    const { limits, quotas, credits, usage } = this.state;
    const now = Math.floor(this.state.now());
    const tag = accountTag(accountId);
    const entries: CounterEntry[] = [];
    const quota = quotas.get(accountId);
    if (quota && quota.expiresAt > now)
      entries.push(hash(`${tag}:quota`, quota.value, quota.expiresAt - now));
    const balance = credits.get(accountId);
    if (balance !== undefined)
      entries.push({ key: `${tag}:credits`, type: 'string', value: String(balance), pttlMs: null });
    const fields = usage.get(accountId);
    if (fields && fields.size > 0) entries.push(hash(`${tag}:usage`, Object.fromEntries(fields), null));
    const prefix = `${accountId}\n`;
    for (const [key, limit] of limits) {
      if (key.startsWith(prefix) && limit.expiresAt > now)
        entries.push(hash(`${tag}:l:${key.slice(prefix.length)}`, limit.value, limit.expiresAt - now));
    }
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async close(): Promise<void> {}
}

function hash(key: string, value: Record<string, number>, pttlMs: number | null): CounterEntry {
  const fields: Record<string, string> = {};
  for (const [name, n] of Object.entries(value)) if (n !== undefined) fields[name] = String(n);
  return { key, type: 'hash', value: fields, pttlMs };
}
