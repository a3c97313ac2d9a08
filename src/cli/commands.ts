// The CLI's handlers by command name (command-specs.ts says what each accepts); each does one thing and prints it.

import type { Config } from '../config.js';
import { migrate } from '../db/migrate.js';
import { openDatabase } from '../db/open-database.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { applyPolicyFile } from '../policy/apply-policy-file.js';
import { accountsCreateCommand, checkCommand, creditsCommand, keysCommand } from './account-commands.js';
import { COMMAND_SPECS } from './command-specs.js';
import { exportCommand } from './export-command.js';
import { parseCommand } from './flags.js';
import { print, type CommandContext } from './output.js';
import { importEnvoyRatelimitCommand } from './ratelimit-commands.js';
import { reservationsListCommand, reservationsSettleCommand } from './reservation-commands.js';
import { billingCommand, showAccountCommand, usageCommand } from './report-commands.js';
import { schemaPolicyCommand } from './schema-command.js';

export type Handler = (ctx: CommandContext) => Promise<void>;

export const HANDLERS: Record<string, Handler> = {
  migrate: async (ctx) => {
    await migrate(ctx.sql);
    print(ctx, { migrated: true }, 'database is up to date');
  },
  apply: async (ctx) => {
    const file = ctx.positionals[0];
    if (!file)
      throw new InputError([
        { path: 'policy.yaml', message: 'name the policy file: tollgate apply <policy.yaml>' },
      ]);
    await migrate(ctx.sql);
    const policy = await applyPolicyFile(ctx.sql, file);
    print(
      ctx,
      { applied: file, tiers: Object.keys(policy.tiers), endpoints: policy.endpoints.map((e) => e.name) },
      `applied ${file}: ${Object.keys(policy.tiers).length} tiers, ${policy.endpoints.length} endpoints`,
    );
  },
  'accounts create': accountsCreateCommand,
  'accounts show': showAccountCommand,
  'keys create': (ctx) => keysCommand(ctx, 'create'),
  'keys revoke': (ctx) => keysCommand(ctx, 'revoke'),
  'keys rotate': (ctx) => keysCommand(ctx, 'rotate'),
  'credits add': creditsCommand,
  'reservations list': reservationsListCommand,
  'reservations settle': (ctx) => reservationsSettleCommand(ctx, false),
  'reservations cancel': (ctx) => reservationsSettleCommand(ctx, true),
  usage: usageCommand,
  billing: billingCommand,
  check: checkCommand,
  export: exportCommand,
  'import-envoy-ratelimit': importEnvoyRatelimitCommand,
  'schema policy': schemaPolicyCommand,
};

/** Runs `command` (a name of the table, `keys create`) with its arguments; opens the database only if it needs one. */
export async function runCommand(command: string, args: string[], config: Readonly<Config>): Promise<void> {
  const spec = COMMAND_SPECS.get(command);
  const handler = HANDLERS[command];
  if (!spec || !handler) throw new InputError([{ path: 'command', message: `unknown command "${command}"` }]);
  const parsed = parseCommand(spec, args);
  const json = parsed.values.json === true;
  if (!spec.database) return handler({ ...parsed, config, json, sql: undefined as unknown as Sql });
  const { sql, release } = await openDatabase(config.database);
  try {
    await handler({ ...parsed, sql, config, json });
  } finally {
    await sql.close();
    release();
  }
}
