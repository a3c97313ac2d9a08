// Policy file validation helpers: read one YAML value, or record a problem at its path and go on.

import type { Algorithm } from './policy.js';

export type Problems = Array<{ path: string; message: string }>;
/** A YAML mapping as parsed with `mapAsMap` (keeps file order, even for names like `1`). */
export type YamlMap = Map<string, unknown>;

// The patterns are shared with the JSON Schema (policy-schema.ts): one definition, two readers.
export const NAME_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$';
export const DURATION_PATTERN = '^([1-9][0-9]*)(ms|s|m|h|d)$';
export const URL_PATTERN = '^https?://[^\\s/]+\\S*$';
const NAME = new RegExp(NAME_PATTERN);
const DURATION = new RegExp(DURATION_PATTERN);
const URL_RE = new RegExp(URL_PATTERN);
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const ALGORITHMS: readonly Algorithm[] = ['fixed_window', 'sliding_window', 'token_bucket'];

/** The largest value of a Postgres `integer` column. */
export const INT4_MAX = 2_147_483_647;
/** Prices are `numeric(14, 4)`: ten digits before the point. */
export const PRICE_BELOW = 1e10;

export class PolicyChecks {
  readonly problems: Problems = [];

  add(path: string, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  /** A mapping whose keys are all in `allowed`; unknown keys are problems (typos must not pass silently). */
  map(value: unknown, path: string, allowed?: readonly string[]): YamlMap | undefined {
    if (!(value instanceof Map)) return this.add(path, 'expected a mapping');
    const map: YamlMap = new Map([...value].map(([k, v]) => [String(k), v]));
    if (allowed) {
      for (const key of map.keys()) {
        if (!allowed.includes(key))
          this.add(`${path}.${key}`, `unknown key (expected one of: ${allowed.join(', ')})`);
      }
    }
    return map;
  }

  list(value: unknown, path: string): unknown[] | undefined {
    return Array.isArray(value) ? value : this.add(path, 'expected a list');
  }

  name(value: unknown, path: string): string | undefined {
    if (typeof value === 'string' && NAME.test(value)) return value;
    return this.add(
      path,
      'expected a name of a-z, 0-9, _ . - starting with a letter or digit (at most 64 characters)',
    );
  }

  /** `max`: the column's range where one is stored (INT4_MAX for `integer`), so Postgres never refuses it. */
  int(value: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max)
      return value;
    return this.add(
      path,
      `expected an integer >= ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` and <= ${max}`}`,
    );
  }

  /** `below`: an exclusive bound (a `numeric(14, 4)` column holds less than 1e10). */
  number(value: unknown, path: string, below = Number.MAX_VALUE): number | undefined {
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < below) return value;
    return this.add(
      path,
      below === Number.MAX_VALUE ? 'expected a number >= 0' : `expected a number >= 0 and < ${below}`,
    );
  }

  bool(value: unknown, path: string): boolean | undefined {
    return typeof value === 'boolean' ? value : this.add(path, 'expected true or false');
  }

  oneOf<T extends string>(value: unknown, path: string, options: readonly T[]): T | undefined {
    if (typeof value === 'string' && (options as readonly string[]).includes(value)) return value as T;
    return this.add(path, `expected one of: ${options.join(', ')}`);
  }

  /** `500ms`, `30s`, `1m`, `1h`, `1d` → ms. */
  duration(value: unknown, path: string): number | undefined {
    const match = typeof value === 'string' ? DURATION.exec(value) : null;
    if (match) {
      const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
      if (Number.isSafeInteger(ms)) return ms;
    }
    return this.add(path, 'expected a duration like 60s, 1m, 1h, 1d');
  }

  url(value: unknown, path: string): string | undefined {
    if (typeof value === 'string' && URL_RE.test(value)) return value;
    return this.add(path, 'expected an http(s) URL');
  }
}

/** ms → the largest unit that divides it exactly (`60000` → `1m`), for serialising. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
