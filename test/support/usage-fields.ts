// An account's Redis usage hash read back in one form for the contract suites: decide.lua counts a
// call of 1 unit in one `<period>|<endpoint>|n:1:<credits>` field, the in-process store (and
// uncount.lua, settle.lua) in `calls`, `units` and `credits` fields. Both become the latter, with
// credits only where some were debited, as the in-process store keeps them.

import type { Cluster, Redis } from 'ioredis';

const PER_CALL = /^(.*\|)n:(\d+):(\d+)$/;

export function usageFields(hash: Record<string, string>): Record<string, number> {
  const fields: Record<string, number> = {};
  const add = (field: string, n: number) => (fields[field] = (fields[field] ?? 0) + n);
  for (const [field, value] of Object.entries(hash)) {
    const perCall = PER_CALL.exec(field);
    if (!perCall) {
      add(field, Number(value));
      continue;
    }
    const [, prefix, units, credits] = perCall as unknown as [string, string, string, string];
    const calls = Number(value);
    add(`${prefix}calls`, calls);
    add(`${prefix}units`, calls * Number(units));
    if (Number(credits) > 0) add(`${prefix}credits`, calls * Number(credits));
  }
  return fields;
}

/** The unflushed usage of an account, as usageFields reads it. */
export async function readUsageHash(
  redis: Redis | Cluster,
  accountId: string,
): Promise<Record<string, number>> {
  return usageFields(await redis.hgetall(`{a:${accountId}}:usage`));
}
