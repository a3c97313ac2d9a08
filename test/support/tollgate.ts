// Starts the real app in-process on port 0 against a fresh Postgres database and the real Redis
// (or in-process counters), with a policy and accounts set up through the same code the CLI uses.

import { readFileSync } from 'node:fs';
import { createKey } from '../../src/accounts/api-keys.js';
import { createAccount } from '../../src/accounts/create-account.js';
import { setAccountStatus } from '../../src/accounts/account-status.js';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { savePolicy } from '../../src/policy/policy-repository.js';
import { freshPostgres } from './databases.js';

export const DEMO_POLICY_YAML = readFileSync(
  new URL('../../src/policy/demo-policy.yaml', import.meta.url),
  'utf8',
);
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestAccount {
  label: string;
  tier: string;
  credits?: number;
  anchorDay?: number;
  suspended?: boolean;
}

/** The ADMIN_TOKEN every test app runs with. */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestTollgate {
  grpcPort: number;
  httpPort: number;
  adminPort: number;
  /** account label → plaintext API key */
  keys: Record<string, string>;
  /** account label → account id */
  accounts: Record<string, string>;
  /** account label → key id */
  keyIds: Record<string, string>;
  app: App;
  databaseUrl: string;
  stop(): Promise<void>;
}

export interface StartTollgateOptions {
  policyYaml?: string;
  accounts: TestAccount[];
  store?: 'redis' | 'memory';
  env?: Record<string, string>;
  /** Default: silent. */
  logger?: Logger;
  /** Default: no drain delay on stop(), so test files do not wait for load balancers. */
  app?: AppOptions;
  /** Run against this prepared database (another replica); stop() then leaves it to its owner. */
  database?: PreparedDatabase;
}

export interface PreparedDatabase {
  url: string;
  /** account label → plaintext API key */
  keys: Record<string, string>;
  /** account label → account id */
  accounts: Record<string, string>;
  /** account label → key id */
  keyIds: Record<string, string>;
  drop(): Promise<void>;
}

/** A fresh Postgres database with the policy stored and one key per account, as the CLI would set it up. */
export async function prepareDatabase(opts: {
  policyYaml?: string;
  accounts: TestAccount[];
}): Promise<PreparedDatabase> {
  const db = await freshPostgres();
  const keys: Record<string, string> = {};
  const accounts: Record<string, string> = {};
  const keyIds: Record<string, string> = {};
  await migrate(db.sql);
  await savePolicy(db.sql, parsePolicy(opts.policyYaml ?? DEMO_POLICY_YAML));
  for (const account of opts.accounts) {
    const input: Parameters<typeof createAccount>[1] = { name: account.label, tier: account.tier };
    if (account.credits !== undefined) input.credits = account.credits;
    if (account.anchorDay !== undefined) input.billingAnchorDay = account.anchorDay;
    const { id } = await createAccount(db.sql, input);
    if (account.suspended) await setAccountStatus(db.sql, id, 'suspended');
    const key = await createKey(db.sql, { accountId: id });
    accounts[account.label] = id;
    keys[account.label] = key.key;
    keyIds[account.label] = key.id;
  }
  await db.sql.close();
  return { url: db.url, keys, accounts, keyIds, drop: () => db.drop() };
}

export async function startTollgate(opts: StartTollgateOptions): Promise<TestTollgate> {
  const db = opts.database ?? (await prepareDatabase(opts));
  const { keys, accounts, keyIds } = db;
  const config = loadConfig({
    DATABASE_URL: db.url,
    ...(opts.store === 'memory' ? {} : { REDIS_URL }),
    HOST: '127.0.0.1',
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    ADMIN_PORT: '0',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    // Generous: tests share 2 cores; the production default is short on purpose.
    REDIS_TIMEOUT_MS: '2000',
    PG_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const app = await createApp(config, opts.logger ?? createLogger('silent'), {
    drainDelayMs: 0,
    ...opts.app,
  });
  const ports = await app.listen();
  return {
    ...ports,
    keys,
    accounts,
    keyIds,
    app,
    databaseUrl: db.url,
    async stop() {
      await app.close();
      if (!opts.database) await db.drop();
    },
  };
}
