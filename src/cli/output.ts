// CLI output: JSON with --json (snake_case keys, as the admin API), else human lines. stdout is the CLI's
// interface, so console is right here; errors go to stderr, as JSON too with --json.

import type { Sql } from '../db/sql.js';
import type { Config } from '../config.js';
import type { ParsedArgs } from './flags.js';

/** What a command handler gets: its parsed arguments and, for database commands, the open database. */
export interface CommandContext extends ParsedArgs {
  sql: Sql;
  config: Readonly<Config>;
  json: boolean;
}

export function print(ctx: Pick<CommandContext, 'json'>, json: unknown, human: string): void {
  console.log(ctx.json ? JSON.stringify(snakeCase(json), null, 2) : human);
}

export interface CliError {
  code: string;
  message: string;
  /** The flag, argument, variable or policy path at fault; null when none is. */
  field: string | null;
  /** Policy file problems: where in the YAML. */
  line?: number;
  column?: number;
}

export function printError(json: boolean, command: string, errors: CliError[]): void {
  if (json) {
    const [first] = errors;
    const body = errors.length > 1 ? { ...first, problems: errors } : first;
    process.stderr.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
    return;
  }
  for (const e of errors)
    process.stderr.write(
      `tollgate${command ? ` ${command}` : ''}: ${e.field ? `${e.field}: ` : ''}${e.message}\n`,
    );
}

/** `billingAnchorDay` → `billing_anchor_day`, deep; Dates and values untouched. */
export function snakeCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCase);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeCase(v)]),
  );
}
