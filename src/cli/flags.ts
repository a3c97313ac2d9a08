// Flag parsing for the CLI with errors that name the flag.

import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';

export type FlagSpec = Record<string, { type: 'string' | 'boolean' }>;

export function parseFlags<T extends FlagSpec>(
  args: string[],
  spec: T,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...spec, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    throw new InputError([{ path: 'arguments', message: (err as Error).message }]);
  }
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
