// The SQL seam's contract: the same bodies run on Postgres (postgres.js) and embedded PGlite.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setAccountStatus } from '../../src/accounts/account-status.js';
import { createKey, revokeKey, rotateKey } from '../../src/accounts/api-keys.js';
import { createAccount } from '../../src/accounts/create-account.js';
import { addCredits } from '../../src/accounts/credits.js';
import { migrate } from '../../src/db/migrate.js';
import type { Sql } from '../../src/db/sql.js';
import { InputError } from '../../src/errors.js';
import { hashApiKey } from '../../src/keys/api-key.js';
import { SqlKeyStore } from '../../src/keys/sql-key-store.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { MIGRATIONS } from '../support/databases.js';
import { loadPolicy, savePolicy } from '../../src/policy/policy-repository.js';

const DEMO = parsePolicy(readFileSync(new URL('../../src/policy/demo-policy.yaml', import.meta.url), 'utf8'));
const OTHER = parsePolicy(`
tiers:
  pro:
    limits: [{ name: per-hour, algorithm: fixed_window, limit: 1000, window: 1h, shadow: true }]
    quota: { requests: 5, period: month }
    credits_per_request: 2
  free:
    quota: unlimited
endpoints:
  search:
    match: { methods: [GET, HEAD], path: /v1/search/* }
    cost: 0
    overrides:
      free: { allowed: false }
      pro: { limits: [{ name: search-burst, algorithm: token_bucket, limit: 10, window: 1s, burst: 3 }] }
`);

/** Resolves to the InputError `fn` throws (fails the test if it throws anything else or nothing). */
async function inputError(fn: () => Promise<unknown>): Promise<InputError> {
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

export function sqlStoreContract(
  label: string,
  open: () => Promise<{ sql: Sql; close(): Promise<void> }>,
): void {
  describe(`Sql contract: ${label}`, () => {
    let sql: Sql;
    let close: () => Promise<void>;
    let keys: SqlKeyStore;

    beforeAll(async () => {
      ({ sql, close } = await open());
      keys = new SqlKeyStore(sql);
    });
    afterAll(async () => close?.());

    test('migrate applies every file once, also when two run at once, and again is a no-op', async () => {
      const [a, b] = await Promise.all([migrate(sql), migrate(sql)]);
      // Each file is applied by exactly one of the two runs (which one is a race).
      expect([...a, ...b].sort()).toEqual(MIGRATIONS);
      expect(await migrate(sql)).toEqual([]);
      expect(await sql.query('select version from schema_migrations order by version')).toEqual(
        MIGRATIONS.map((version) => ({ version })),
      );
    });

    test('value types are the same on every backend', async () => {
      const [row] = await sql.query(
        "select 9007199254740991::int8 as big, 2.5::numeric as num, 7::int as int, now() as at, true as yes, array['a']::text[] as list",
      );
      expect(row).toEqual({
        big: 9007199254740991,
        num: 2.5,
        int: 7,
        at: expect.any(Date),
        yes: true,
        list: ['a'],
      });
      const [params] = await sql.query(
        'select $1::timestamptz as at, $2::bigint as big, $3::text[] as list',
        [new Date(86_400_000), 42, ['x', 'y']],
      );
      expect(params).toEqual({ at: new Date(86_400_000), big: 42, list: ['x', 'y'] });
    });

    test('a transaction rolls back when it throws; a nested one rolls back alone', async () => {
      await sql.exec('create table tx_probe (n int)');
      await expect(
        sql.transaction(async (tx) => {
          await tx.query('insert into tx_probe values (1)');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      await sql.transaction(async (tx) => {
        await tx.query('insert into tx_probe values (2)');
        await tx
          .transaction(async (inner) => {
            await inner.query('insert into tx_probe values (3)');
            throw new Error('inner');
          })
          .catch(() => undefined);
      });
      expect(await sql.query('select n from tx_probe')).toEqual([{ n: 2 }]);
    });

    test('save/load round-trips the demo policy, and a replacement replaces it whole', async () => {
      await savePolicy(sql, DEMO);
      expect(await loadPolicy(sql)).toStrictEqual(DEMO);
      await savePolicy(sql, OTHER);
      expect(await loadPolicy(sql)).toStrictEqual(OTHER);
      await savePolicy(sql, DEMO);
      expect(await loadPolicy(sql)).toStrictEqual(DEMO);
      expect((await loadPolicy(sql)).endpoints.map((e) => e.name)).toEqual(['chat', 'export']);
    });

    test('savePolicy on error changes nothing', async () => {
      await savePolicy(sql, DEMO);
      await createAccount(sql, { name: 'on-enterprise', tier: 'enterprise' });
      const err = await inputError(() => savePolicy(sql, OTHER)); // OTHER has no enterprise tier
      expect(err.problems).toEqual([
        {
          path: 'tiers.enterprise',
          message: expect.stringMatching(/^cannot remove tier enterprise: 1 account\(s\) are still on it/),
        },
      ]);
      // A failure half-way (an override naming a tier that is not in the policy) rolls back too.
      const broken = structuredClone(OTHER);
      broken.tiers.enterprise = DEMO.tiers.enterprise!;
      broken.endpoints[0]!.overrides.ghost = { allowed: true, limits: [] };
      await expect(savePolicy(sql, broken)).rejects.toThrow();
      expect(await loadPolicy(sql)).toStrictEqual(DEMO);
    });

    test('a key is found by its hash only, and its plaintext is nowhere in the database', async () => {
      await savePolicy(sql, DEMO);
      const { id: accountId } = await createAccount(sql, {
        name: 'acme',
        tier: 'pro',
        billingAnchorDay: 31,
        credits: 50,
      });
      expect(accountId).toMatch(/^acc_[a-z2-7]{16}$/);
      const created = await createKey(sql, { accountId, name: 'ci' });
      expect(created.id).toMatch(/^key_[a-z2-7]{16}$/);
      expect(created.key).toMatch(/^tg_live_[a-z2-7]{32}$/);
      expect(created.prefix).toBe(created.key.slice(0, 12));
      expect(await keys.findByHash(hashApiKey(created.key))).toEqual({
        keyId: created.id,
        accountId,
        tier: 'pro',
        accountStatus: 'active',
        expiresAt: null,
        revoked: false,
        billingAnchorDay: 31,
        creditBalance: 50,
        creditLedgerId: expect.any(Number) as number,
      });
      expect(await keys.findByHash(created.key)).toBeNull();
      expect(await keys.findByHash(hashApiKey('tg_live_unknown'))).toBeNull();
      const secret = created.key.slice(12);
      for (const table of ['api_keys', 'accounts', 'credit_ledger']) {
        const dump = JSON.stringify(await sql.query(`select * from ${table}`));
        expect(dump).not.toContain(secret);
      }
      const [stored] = await sql.query('select key_hash, prefix from api_keys where id = $1', [created.id]);
      expect(stored).toEqual({ key_hash: hashApiKey(created.key), prefix: created.prefix });
    });

    test('lookups asked for together are answered by one query per 100 hashes, each with its own record', async () => {
      const { id: accountId } = await createAccount(sql, { name: 'batch', tier: 'free' });
      const created = await Promise.all(Array.from({ length: 3 }, () => createKey(sql, { accountId })));
      let queries = 0;
      const counted: Sql = Object.assign(Object.create(sql) as Sql, {
        query: (...args: Parameters<Sql['query']>) => {
          queries++;
          return sql.query(...args);
        },
      });
      const batched = new SqlKeyStore(counted);
      // 250 lookups: the 3 keys again and again (some hashes asked for twice in one query), and unknown ones.
      const hashes = Array.from({ length: 250 }, (_, i) =>
        i % 5 < 3 ? hashApiKey(created[i % 5]!.key) : hashApiKey(`tg_live_unknown${i}`),
      );
      const records = await Promise.all(hashes.map((h) => batched.findByHash(h)));
      expect(queries).toBe(3);
      records.forEach((record, i) => {
        if (i % 5 < 3) expect(record).toMatchObject({ keyId: created[i % 5]!.id, accountId });
        else expect(record).toBeNull();
      });
      // One at a time, each is its own query.
      expect(await batched.findByHash(hashes[0]!)).toMatchObject({ keyId: created[0]!.id });
      expect(queries).toBe(4);
    });

    test('lookups asked for one per turn while two queries are out wait and go as one query', async () => {
      const { id: accountId } = await createAccount(sql, { name: 'stream', tier: 'free' });
      const created = await Promise.all(Array.from({ length: 3 }, () => createKey(sql, { accountId })));
      let queries = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const counted: Sql = Object.assign(Object.create(sql) as Sql, {
        query: async (...args: Parameters<Sql['query']>) => {
          if (++queries <= 2) await gate; // the first two stay out until released
          return sql.query(...args);
        },
      });
      const store = new SqlKeyStore(counted);
      const turn = () => new Promise((resolve) => setImmediate(resolve));
      const hash = (i: number) =>
        i % 4 < 3 ? hashApiKey(created[i % 4]!.key) : hashApiKey(`tg_live_nope${i}`);
      // As renewals and cold keys come under steady traffic: one lookup per turn of the event loop.
      const asked: Array<Promise<unknown>> = [];
      for (let i = 0; i < 12; i++) {
        asked.push(store.findByHash(hash(i)));
        await turn();
      }
      expect(queries).toBe(2);
      release();
      const records = await Promise.all(asked);
      expect(queries).toBe(3); // the ten that waited went together
      records.forEach((record, i) => {
        if (i % 4 < 3) expect(record).toMatchObject({ keyId: created[i % 4]!.id, accountId });
        else expect(record).toBeNull();
      });
    });

    test('bad account and key input names the field', async () => {
      await savePolicy(sql, DEMO);
      expect((await inputError(() => createAccount(sql, { name: 'x', tier: 'gold' }))).problems[0]).toEqual({
        path: 'tier',
        message: 'unknown tier "gold" (known: free, pro, enterprise)',
      });
      expect(
        (
          await inputError(() => createAccount(sql, { name: '', tier: 'free', billingAnchorDay: 32 }))
        ).problems.map((p) => p.path),
      ).toEqual(['name', 'billingAnchorDay']);
      expect((await inputError(() => createKey(sql, { accountId: 'acc_nope' }))).problems[0]).toEqual({
        path: 'accountId',
        message: 'unknown account "acc_nope"',
      });
      expect((await inputError(() => revokeKey(sql, 'key_nope'))).problems[0]).toEqual({
        path: 'keyId',
        message: 'unknown key "key_nope"',
      });
      expect((await inputError(() => rotateKey(sql, 'key_nope', 1000))).problems[0]?.path).toBe('keyId');
      expect((await inputError(() => setAccountStatus(sql, 'acc_nope', 'suspended'))).problems[0]?.path).toBe(
        'accountId',
      );
    });

    test('revoked, expired, rotated and suspended keys read as such', async () => {
      await savePolicy(sql, DEMO);
      const { id: accountId } = await createAccount(sql, { name: 'states', tier: 'free' });
      const revoked = await createKey(sql, { accountId });
      await revokeKey(sql, revoked.id);
      await revokeKey(sql, revoked.id); // idempotent
      expect(await keys.findByHash(hashApiKey(revoked.key))).toMatchObject({ revoked: true });
      const expired = await createKey(sql, { accountId, expiresAt: new Date(Date.now() - 1000) });
      expect((await keys.findByHash(hashApiKey(expired.key)))!.expiresAt).toBeLessThan(Date.now());

      const old = await createKey(sql, { accountId, name: 'rotating' });
      const before = Date.now();
      const next = await rotateKey(sql, old.id, 60_000);
      const oldRecord = (await keys.findByHash(hashApiKey(old.key)))!;
      expect(oldRecord.revoked).toBe(false);
      expect(oldRecord.expiresAt).toBeGreaterThanOrEqual(before + 60_000 - 2_000);
      expect(oldRecord.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000 + 2_000);
      expect(await keys.findByHash(hashApiKey(next.key))).toMatchObject({
        accountId,
        revoked: false,
        expiresAt: null,
      });
      const [renamed] = await sql.query('select name from api_keys where id = $1', [next.id]);
      expect(renamed).toEqual({ name: 'rotating' });
      await rotateKey(sql, next.id, 0);
      expect((await keys.findByHash(hashApiKey(next.key)))!.expiresAt).toBeLessThanOrEqual(
        Date.now() + 1_000,
      );
      expect((await inputError(() => rotateKey(sql, revoked.id, 1000))).problems[0]?.message).toMatch(
        /is revoked/,
      );

      await setAccountStatus(sql, accountId, 'suspended');
      expect(await keys.findByHash(hashApiKey(old.key))).toMatchObject({ accountStatus: 'suspended' });
      await setAccountStatus(sql, accountId, 'active');
      expect(await keys.findByHash(hashApiKey(old.key))).toMatchObject({ accountStatus: 'active' });
    });

    test('credits: every change is a ledger row, top-ups are idempotent', async () => {
      await savePolicy(sql, DEMO);
      const { id: accountId } = await createAccount(sql, { name: 'payer', tier: 'free', credits: 10 });
      const { key } = await createKey(sql, { accountId });
      const topUp = await addCredits(sql, accountId, 100, 'invoice-7');
      expect(topUp).toEqual({ applied: true, ledgerId: expect.any(Number), balance: 110 });
      expect(await addCredits(sql, accountId, 100, 'invoice-7')).toEqual({
        applied: false,
        ledgerId: null,
        balance: 110,
      });
      const correction = await addCredits(sql, accountId, -30);
      expect(correction).toEqual({ applied: true, ledgerId: expect.any(Number), balance: 80 });
      expect(correction.ledgerId).toBeGreaterThan(topUp.ledgerId!);
      expect((await inputError(() => addCredits(sql, accountId, 99, 'invoice-7'))).problems[0]?.path).toBe(
        'idempotencyKey',
      );
      expect((await inputError(() => addCredits(sql, accountId, 0))).problems[0]?.path).toBe('amount');
      expect((await inputError(() => addCredits(sql, 'acc_nope', 5))).problems[0]?.path).toBe('accountId');
      const ledger = await sql.query(
        'select id, delta, reason, idempotency_key, created_at from credit_ledger where account_id = $1 order by id',
        [accountId],
      );
      expect(ledger).toEqual([
        {
          id: expect.any(Number),
          delta: 10,
          reason: 'initial',
          idempotency_key: null,
          created_at: expect.any(Date),
        },
        {
          id: expect.any(Number),
          delta: 100,
          reason: 'top_up',
          idempotency_key: 'invoice-7',
          created_at: expect.any(Date),
        },
        {
          id: expect.any(Number),
          delta: -30,
          reason: 'adjustment',
          idempotency_key: null,
          created_at: expect.any(Date),
        },
      ]);
      expect((await keys.findByHash(hashApiKey(key)))!.creditBalance).toBe(80);
    });
  });
}
