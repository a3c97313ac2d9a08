// Embedded mode on a fresh DATA_DIR: the demo policy (demo-policy.yaml), one account per tier, and fresh demo keys
// at every start (plaintext keys are never stored, so the previous start's cannot be shown again).

import { readFile } from 'node:fs/promises';
import { createAccount } from '../accounts/create-account.js';
import { createKey, revokeKey } from '../accounts/api-keys.js';
import type { Sql } from '../db/sql.js';
import { parsePolicy } from '../policy/policy-file.js';
import { savePolicy } from '../policy/policy-repository.js';

export interface DemoKey {
  tier: string;
  accountId: string;
  key: string;
}

const DEMO_TIERS = ['free', 'pro', 'enterprise'];
const DEMO_KEY_NAME = 'demo';

export async function seedDemo(sql: Sql): Promise<DemoKey[]> {
  const [{ tiers }] = (await sql.query<{ tiers: number }>('select count(*)::int as tiers from tiers')) as [
    { tiers: number },
  ];
  if (tiers === 0) {
    await savePolicy(
      sql,
      parsePolicy(await readFile(new URL('../policy/demo-policy.yaml', import.meta.url), 'utf8')),
    );
    for (const tier of DEMO_TIERS) await createAccount(sql, { name: `demo-${tier}`, tier, credits: 1000 });
  }
  const accounts = await sql.query<{ id: string; tier: string }>(
    "select id, tier from accounts where name like 'demo-%' and status = 'active' order by created_at, id",
  );
  const stale = await sql.query<{ id: string }>(
    'select k.id from api_keys k join accounts a on a.id = k.account_id where a.name like $1 and k.name = $2 and k.revoked_at is null',
    ['demo-%', DEMO_KEY_NAME],
  );
  for (const { id } of stale) await revokeKey(sql, id);
  const keys: DemoKey[] = [];
  for (const account of accounts) {
    const { key } = await createKey(sql, { accountId: account.id, name: DEMO_KEY_NAME });
    keys.push({ tier: account.tier, accountId: account.id, key });
  }
  return keys;
}
