// Admin read of the live counters: one account's keys `{a:ID}:*` with their values and time to live. Never writes.

export interface CounterEntry {
  /** The Redis key (`{a:acc_…}:quota`, `{a:acc_…}:usage`, …); the memory store uses the same names. */
  key: string;
  type: 'hash' | 'string' | 'other';
  /** Hash fields, or the string value; null for other types. */
  value: Record<string, string> | string | null;
  /** ms until the key expires; null = no expiry. */
  pttlMs: number | null;
}

export interface CounterInspector {
  /** Every counter key of the account, sorted by key. Throws StoreUnavailable when the store does not answer. */
  inspect(accountId: string): Promise<CounterEntry[]>;
  close(): Promise<void>;
}

/** The hash tag every key of one account shares (one Redis Cluster slot). */
export const accountTag = (accountId: string): string => `{a:${accountId}}`;
