// What the measurements that run Tollgate's modules in the bench process share: a redis-server of
// their own (so Tollgate's running flusher and the rows leave it alone), its CPU, the compiled
// modules from dist/, and the bench tier's one limit as the decision path asks for it.

import type { Redis } from 'ioredis';
import type { LimitCheck } from '../../src/policy/limit-rule.js';
import { freePort, type Proc, startProc } from './procs.js';

/** Tollgate's compiled module from dist/ (what `npm start` runs; its Lua scripts sit next to it). */
export const fromDist = <T>(path: string): Promise<T> =>
  import(new URL(`../../../../dist/${path}`, import.meta.url).href) as Promise<T>;

export async function startOwnRedis(name: string, logDir: string): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const proc = await startProc({
    name,
    core: null,
    cmd: 'redis-server',
    logDir,
    ready: /Ready to accept connections/,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  });
  return { url: `redis://127.0.0.1:${port}`, proc };
}

/** Redis' CPU so far (user + sys), µs. */
export async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (name: string) => Number(info.match(new RegExp(`^${name}:([\\d.]+)`, 'm'))![1]);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1e6;
}

/** bench-allow's limit (policy.yaml): a fixed window that never denies during a run. */
export const PER_SECOND: LimitCheck = {
  id: 't:per-second',
  name: 'per-second',
  algorithm: 'fixed_window',
  limit: 1_000_000_000,
  windowMs: 1000,
  shadow: false,
  hits: 1,
};
