// CLI argument parsing from the command table: errors name the flag, suggest the likely one, refuse extras.

import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';
import { COMMON_OPTIONS, type CommandSpec } from './command-specs.js';
import { didYouMean } from './did-you-mean.js';

/** An InputError with a machine-readable code for `--json` errors (`unknown_option`, `unexpected_argument`, …). */
export class UsageError extends InputError {
  constructor(
    readonly code: string,
    path: string,
    message: string,
  ) {
    super([{ path, message }]);
  }
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseCommand(spec: CommandSpec, args: string[]): ParsedArgs {
  const options = { ...spec.options, ...COMMON_OPTIONS };
  const typed = args.find((a) => a.startsWith('--') && !(a.slice(2).split('=')[0]! in options));
  if (typed) {
    const flag = typed.slice(2).split('=')[0]!;
    const near = didYouMean(flag, Object.keys(options));
    throw new UsageError(
      'unknown_option',
      `--${flag}`,
      `unknown option${near ? `; did you mean --${near}?` : ''} (tollgate ${spec.name} --help lists the options)`,
    );
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError('invalid_arguments', 'arguments', (err as Error).message.split('\n')[0]!);
  }
  const positionals = parsed.positionals;
  const variadic = spec.args.at(-1)?.endsWith('…') ?? false;
  if (!variadic && positionals.length > spec.args.length) {
    const extra = positionals.slice(spec.args.length);
    throw new UsageError(
      'unexpected_argument',
      extra[0]!,
      `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => `"${a}"`).join(' ')}: tollgate ${synopsis(spec)}`,
    );
  }
  return { values: parsed.values as ParsedArgs['values'], positionals };
}

/** `keys rotate <key-id> [--grace 24h]` */
export function synopsis(spec: CommandSpec): string {
  const args = spec.args.map((a) => `<${a}>`);
  const options = Object.entries(spec.options).map(([flag, o]) => {
    const text = `--${flag}${o.value ? ` ${o.value}` : ''}`;
    return o.required ? text : `[${text}]`;
  });
  return [spec.name, ...args, ...options].join(' ');
}

export function requireString(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '')
    throw new InputError([{ path: `--${name}`, message: 'is required' }]);
  return value;
}

export function optionalInt(
  values: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw) || value < min || value > max) {
    throw new InputError([{ path: `--${name}`, message: `expected an integer from ${min} to ${max}` }]);
  }
  return value;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d`, `24h`, `90m` → ms. */
export function optionalDuration(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const match = typeof raw === 'string' ? /^(\d+)(ms|s|m|h|d)$/.exec(raw) : null;
  if (!match)
    throw new InputError([{ path: `--${name}`, message: 'expected a duration like 90m, 24h or 30d' }]);
  return Number(match[1]) * UNITS[match[2]!]!;
}
