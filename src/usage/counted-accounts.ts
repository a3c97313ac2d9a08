// Usage flushing: the accounts this process counted usage for since the last flush, so a flush visits
// those and not every account in Redis.

/** Accounts kept between two flushes; past this a flush scans Redis instead (and memory stays bounded). */
const MAX_ACCOUNTS = 1_000_000;

export class CountedAccounts {
  private ids = new Set<string>();
  private overflowed = false;

  constructor(private readonly max = MAX_ACCOUNTS) {}

  /** The decision path counted usage for this account (or took some back). */
  add(accountId: string): void {
    if (this.ids.size < this.max) this.ids.add(accountId);
    else this.overflowed = true;
  }

  /** The accounts added since the last drain; `complete` false when some were not kept (scan instead). */
  drain(): { ids: Set<string>; complete: boolean } {
    const drained = { ids: this.ids, complete: !this.overflowed };
    this.ids = new Set();
    this.overflowed = false;
    return drained;
  }
}
