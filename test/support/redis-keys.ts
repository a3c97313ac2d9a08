// Test cleanup on the shared Redis: only the given accounts' keys, never FLUSHALL.

import type { Redis } from 'ioredis';

export async function deleteAccountKeys(redis: Redis, accountIds: Iterable<string>): Promise<void> {
  for (const id of accountIds) {
    const keys = await redis.keys(`{a:${id}}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
}
