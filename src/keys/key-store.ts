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
}

export interface KeyStore {
  /** `hash` is the lower-case hex SHA-256 of the key. null when unknown. Throws StoreUnavailable. */
  findByHash(hash: string): Promise<KeyRecord | null>;
}
