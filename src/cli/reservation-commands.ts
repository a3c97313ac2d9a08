// CLI: metered calls' open reservations in the shared counters (Redis): list, settle, cancel.

import { RedisCounterStore } from '../counters/redis-counter-store.js';
import { openRedis } from '../counters/redis-connections.js';
import { InputError } from '../errors.js';
import { MAX_SETTLE_UNITS, type SettleResult } from '../metering/reservation-settler.js';
import { optionalInt, requireString } from './flags.js';
import { print, type CommandContext } from './output.js';

export async function reservationsListCommand(ctx: CommandContext): Promise<void> {
  const accountId = requireString(ctx.values, 'account');
  await withStore(ctx, async (store) => {
    const open = await store.openReservations(accountId);
    const human = open.map(
      (r) => `${r.id}  ${r.endpoint}  ${r.units} units  expires ${new Date(r.expiresAtMs).toISOString()}`,
    );
    print(ctx, open, human.length > 0 ? human.join('\n') : `no open reservations for ${accountId}`);
  });
}

export async function reservationsSettleCommand(ctx: CommandContext, cancel: boolean): Promise<void> {
  const id = ctx.positionals[0];
  if (!id) throw new InputError([{ path: 'reservation', message: 'name the reservation id' }]);
  const units = cancel ? 0 : (optionalInt(ctx.values, 'units', 0, MAX_SETTLE_UNITS) ?? null);
  await withStore(ctx, async (store) => {
    const result = await store.settle(id, units);
    if (result.outcome === 'unknown')
      throw new InputError([{ path: 'reservation', message: `no such reservation: ${id}` }]);
    print(ctx, result, describe(result));
  });
}

function describe(result: Exclude<SettleResult, { outcome: 'unknown' }>): string {
  if (result.outcome === 'already_settled') return 'already settled (or expired): nothing changed';
  return `settled: ${result.reserved} reserved → ${result.units} units`;
}

async function withStore(
  ctx: CommandContext,
  run: (store: RedisCounterStore) => Promise<void>,
): Promise<void> {
  const { counters } = ctx.config;
  if (counters.kind === 'memory')
    throw new InputError([
      {
        path: 'REDIS_URL',
        message:
          'is not set: reservations live in the embedded server process; use its admin API (GET /admin/accounts/ID/reservations)',
      },
    ]);
  const store = new RedisCounterStore({ redis: openRedis(counters, 'inspector') });
  try {
    await run(store);
  } finally {
    await store.close();
  }
}
