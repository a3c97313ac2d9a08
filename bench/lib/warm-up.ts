// Before the runs: every key looked up once (so the key cache holds it), the deny keys and RLS deny
// values spend their one allowed call, then spot checks of what each server answers.

import type { Redis } from 'ioredis';
import { log } from './config.js';
import { checkBody, RLS_ALLOW_KEY, RLS_DENY_KEY, RLS_PATH, rlsBody } from './grpc-bodies.js';
import { checkOnce, decodeRls, grpcMany, rlsOnce } from './grpc-probe.js';
import { warmKeys } from './load.js';
import type { Report } from './report.js';
import { usedMemory } from './stores.js';

export interface WarmUpInput {
  redis: Redis;
  ports: { grpc: number; http: number; noopGrpc: number; rlflex: number };
  keys: { allow: string[]; deny: string[] };
  rlsValues: { allow: string[]; deny: string[] };
}

export async function warmUp({ redis, ports, keys, rlsValues }: WarmUpInput) {
  const rls = (key: string, values: string[]) =>
    grpcMany(
      ports.grpc,
      RLS_PATH,
      values.map((v) => rlsBody(key, v)),
      decodeRls,
    );
  const memory = { before: await usedMemory(redis), afterAccounts: 0, afterRls: 0 };
  const statuses = {
    allow: await warmKeys(ports.http, keys.allow),
    denyFirst: await warmKeys(ports.http, keys.deny),
    denySecond: await warmKeys(ports.http, keys.deny),
    rlsAllow: {} as Record<string, number>,
    rlsDenyFirst: {} as Record<string, number>,
    rlsDenySecond: {} as Record<string, number>,
  };
  memory.afterAccounts = await usedMemory(redis);
  statuses.rlsAllow = await rls(RLS_ALLOW_KEY, rlsValues.allow);
  statuses.rlsDenyFirst = await rls(RLS_DENY_KEY, rlsValues.deny);
  statuses.rlsDenySecond = await rls(RLS_DENY_KEY, rlsValues.deny);
  memory.afterRls = await usedMemory(redis);
  log(`warm-up: ${JSON.stringify(statuses)}`);
  await warmKeys(ports.rlflex, keys.deny, 32, '/check-deny');

  const spot: Report['spot'] = {
    grpcAllow: { got: await checkOnce(ports.grpc, checkBody(keys.allow[0]!)), expected: '0·0' },
    grpcDeny: { got: await checkOnce(ports.grpc, checkBody(keys.deny[0]!)), expected: '0·8' },
    grpcUnknown: {
      got: await checkOnce(ports.grpc, checkBody(`tg_live_${'x'.repeat(32)}`)),
      expected: '0·16',
    },
    noopGrpc: { got: await checkOnce(ports.noopGrpc, checkBody(keys.allow[0]!)), expected: '0·0' },
    rlsAllow: {
      got: await rlsOnce(ports.grpc, rlsBody(RLS_ALLOW_KEY, rlsValues.allow[0]!)),
      expected: '0·OK',
    },
    rlsDeny: {
      got: await rlsOnce(ports.grpc, rlsBody(RLS_DENY_KEY, rlsValues.deny[0]!)),
      expected: '0·OVER_LIMIT',
    },
    noopRls: {
      got: await rlsOnce(ports.noopGrpc, rlsBody(RLS_ALLOW_KEY, rlsValues.allow[0]!)),
      expected: '0·OK',
    },
  };
  log(
    `spot checks (grpc-status·CheckResponse.status.code | RateLimitResponse.overall_code): ${JSON.stringify(spot)}`,
  );
  const wrong = Object.entries(spot).filter(([, s]) => s.got !== s.expected);
  if (wrong.length > 0)
    log(
      `WARNING: unexpected answers: ${wrong.map(([k, s]) => `${k} ${s.got} (expected ${s.expected})`).join(', ')}`,
    );
  return { statuses, spot, memory };
}
