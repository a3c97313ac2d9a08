// The command table of the CLI: each command opens the database, does one thing, prints the result.

import type { Config } from '../config.js';
import { openDatabase } from '../db/open-database.js';
import { migrate } from '../db/migrate.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { serve } from '../serve.js';
import { exportCommand } from './export-command.js';
import { accountsCommand, checkCommand, creditsCommand, keysCommand } from './account-commands.js';
import { applyPolicyFile } from '../policy/apply-policy-file.js';
import { print } from './output.js';
import { importEnvoyRatelimitCommand } from './ratelimit-commands.js';
import { billingCommand, usageCommand } from './report-commands.js';

export const USAGE = `Usage: tollgate <command> [options]

  serve                                  run the sidecar (default)
  migrate                                apply pending database migrations
  apply <policy.yaml>                    validate a policy file whole and store it (nothing changes on error)
  accounts create --name N --tier T [--anchor-day 1-31] [--credits N]
  accounts show <account-id>             tier, status, credit balance and keys (never key material)
  keys create --account ID [--name N] [--expires-in 30d]
  keys revoke <key-id>
  keys rotate <key-id> [--grace 24h]     new key; the old one keeps working for the grace period
  credits add --account ID --amount N [--idempotency-key K]
  usage --account ID [--month 2026-11]   flushed usage of the billing period starting that month, by endpoint
  billing --account ID [--month 2026-11] plan price, included quota, overage (pro rata, to the cent), credits spent
  check --key K [--method GET] [--path /] [--endpoint E] [--cost N]
                                         one decision, printed with the headers a proxy would relay
  export [--once]                        deliver the outbox (usage, quota-threshold events) to Stripe and/or the
                                         webhook until SIGTERM; --once: everything due now, then exit
  import-envoy-ratelimit <file.yaml>…    envoyproxy/ratelimit config files → a ratelimit_domains section
                                         on stdout (no database access)

Options: --json prints machine-readable output. Configuration comes from the environment
(DATABASE_URL, DATA_DIR, REDIS_URL, …) exactly as for serve.
`;

type Handler = (sql: Sql, args: string[], config: Readonly<Config>) => Promise<void>;

const COMMANDS: Record<string, Handler> = {
  migrate: async (sql, args) => {
    await migrate(sql);
    print(args, { migrated: true }, 'database is up to date');
  },
  apply: async (sql, args) => {
    const file = args.find((a) => !a.startsWith('--'));
    if (!file)
      throw new InputError([
        { path: 'policy.yaml', message: 'name the policy file: tollgate apply <policy.yaml>' },
      ]);
    await migrate(sql);
    const policy = await applyPolicyFile(sql, file);
    print(
      args,
      { applied: file, tiers: Object.keys(policy.tiers), endpoints: policy.endpoints.map((e) => e.name) },
      `applied ${file}: ${Object.keys(policy.tiers).length} tiers, ${policy.endpoints.length} endpoints`,
    );
  },
  accounts: accountsCommand,
  keys: keysCommand,
  credits: creditsCommand,
  usage: usageCommand,
  billing: billingCommand,
  check: checkCommand,
  export: exportCommand,
};

export async function runCommand(command: string, args: string[], config: Readonly<Config>): Promise<void> {
  if (command === 'serve') return serve(config);
  if (command === 'import-envoy-ratelimit') return importEnvoyRatelimitCommand(args);
  const handler = COMMANDS[command];
  if (!handler)
    throw new InputError([{ path: 'command', message: `unknown command "${command}"\n${USAGE}` }]);
  const { sql, release } = await openDatabase(config.database);
  try {
    await handler(sql, args, config);
  } finally {
    await sql.close();
    release();
  }
}
