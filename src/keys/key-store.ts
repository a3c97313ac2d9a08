// The key seam: find a caller by the SHA-256 of their API key; never by plaintext.

export interface KeyRecord {
  keyId: string;
  accountId: string;
  tier: string;
  accountStatus: 'active' | 'suspended';
  /** ms since epoch; null = never. Rotation sets this to the end of the grace period. */
  expiresAt: number | null;
  revoked: boolean;
  /** 1..31 */
  billingAnchorDay: number;
  /** Credit balance in Postgres when loaded (ledger sum): seeds the live balance in Redis. */
  creditBalance: number;
  /**
   * The highest credit ledger row id in `creditBalance`: a balance seeded from it already holds every
   * row up to it, so a late notification of such a row must not add it again (apply-credits.lua).
   */
  creditLedgerId?: number;
  /**
   * Quota units already flushed to Postgres for the account's latest billing period with usage:
   * the quota continues from it if Redis lost the quota state (decide uses it only for the current
   * period). Absent when nothing was flushed yet.
   */
  quotaSeed?: { periodStartMs: number; units: number };
}

export interface KeyStore {
  /** `hash` is the lower-case hex SHA-256 of the key. null when unknown. Throws StoreUnavailable. */
  findByHash(hash: string): Promise<KeyRecord | null>;
  /**
   * What findByHash would answer, when memory holds it (a cache): the decision path then waits on no
   * promise. undefined = only findByHash can answer.
   */
  findCached?(hash: string): KeyRecord | null | undefined;
}
