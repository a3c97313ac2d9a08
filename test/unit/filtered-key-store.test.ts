// The key filter in front of the Postgres key store (PGlite): built from every stored hash, refuses
// unknown hashes without asking the inner store, waits its grace for a notification in flight, and
// reads keys created while notifications could not arrive (catchUp).

import { beforeAll, describe, expect, test } from 'vitest';
import { createAccount } from '../../src/accounts/create-account.js';
import { createKey } from '../../src/accounts/api-keys.js';
import { migrate } from '../../src/db/migrate.js';
import type { Sql } from '../../src/db/sql.js';
import { generateApiKey, hashApiKey } from '../../src/keys/api-key.js';
import { FilteredKeyStore } from '../../src/keys/filtered-key-store.js';
import type { KeyRecord, KeyStore } from '../../src/keys/key-store.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { freshPglite } from '../support/databases.js';
import { DEMO_POLICY_YAML } from '../support/tollgate.js';

let sql: Sql;
let accountId: string;

/** Counts the hashes that reach it; answers a record for any hash. */
class CountingStore implements KeyStore {
  readonly asked: string[] = [];
  async findByHash(hash: string): Promise<KeyRecord | null> {
    this.asked.push(hash);
    return {
      keyId: 'key_x',
      accountId,
      tier: 'free',
      accountStatus: 'active',
      expiresAt: null,
      revoked: false,
      billingAnchorDay: 1,
      creditBalance: 0,
    };
  }
}

beforeAll(async () => {
  sql = await freshPglite();
  await migrate(sql);
  await savePolicy(sql, parsePolicy(DEMO_POLICY_YAML));
  ({ id: accountId } = await createAccount(sql, { name: 'a', tier: 'free' }));
});

describe('FilteredKeyStore', () => {
  test('stored keys pass to the inner store; unknown ones are refused after the grace, without it', async () => {
    const stored = await createKey(sql, { accountId });
    const inner = new CountingStore();
    let refused = 0;
    const store = await FilteredKeyStore.open({
      inner,
      sql,
      graceMs: 20,
      onResult: (result) => void (result === 'refused' && refused++),
    });
    expect(await store.findByHash(hashApiKey(stored.key))).not.toBeNull();
    const started = Date.now();
    expect(await store.findByHash(generateApiKey().hash)).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(inner.asked).toEqual([hashApiKey(stored.key)]);
    expect(refused).toBe(1);
  });

  test('a hash added during the grace (its notification arrived late) is looked up', async () => {
    const inner = new CountingStore();
    const store = await FilteredKeyStore.open({ inner, sql, graceMs: 50 });
    const { hash } = generateApiKey();
    const pending = store.findByHash(hash);
    setTimeout(() => store.add(hash), 10);
    expect(await pending).not.toBeNull();
    expect(inner.asked).toEqual([hash]);
  });

  test('catchUp reads keys created since the last read (a lost notification)', async () => {
    const inner = new CountingStore();
    const store = await FilteredKeyStore.open({ inner, sql, graceMs: 1 });
    const later = await createKey(sql, { accountId }); // its notification reaches nobody here
    expect(await store.findByHash(hashApiKey(later.key))).toBeNull();
    await store.catchUp();
    expect(await store.findByHash(hashApiKey(later.key))).not.toBeNull();
    expect(store.stats.keys).toBeGreaterThanOrEqual(2);
    expect(store.stats.bytes).toBe(65_536 * 2);
  });
});
