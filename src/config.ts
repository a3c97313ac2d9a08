// Environment → one frozen, typed Config, validated once at start. The only reader of process.env.

import { resolve } from 'node:path';
import { InputError } from './errors.js';

export type DatabaseConfig = { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };
export type CountersConfig =
  | { kind: 'redis'; url: string }
  | { kind: 'redis-cluster'; nodes: Array<{ host: string; port: number }> }
  | { kind: 'memory' };
export type FailureMode = 'closed' | 'open' | 'local';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  database: DatabaseConfig;
  counters: CountersConfig;
  /** Undefined: generated (embedded mode persists it under DATA_DIR). */
  adminToken: string | undefined;
  dataDir: string;
  host: string;
  httpPort: number;
  grpcPort: number;
  adminPort: number;
  failureMode: FailureMode;
  redisTimeoutMs: number;
  /** OVER_LIMIT_CACHE=on: rate-limit denials answered in-process until their retry time (see over-limit-cache.ts). */
  overLimitCache: boolean;
  logLevel: LogLevel;
  policyFile: string | undefined;
  /** USAGE_FLUSH_MS: ms between usage flushes from the counters to Postgres. */
  usageFlushMs: number;
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const problems: Array<{ path: string; message: string }> = [];
  const fail = (name: string, message: string) => problems.push({ path: name, message });
  const dataDir = resolve(env.DATA_DIR || '.data');
  const config: Config = {
    database: env.DATABASE_URL ? { kind: 'postgres', url: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], fail) } : { kind: 'pglite', dataDir },
    counters: counters(env, fail),
    adminToken: env.ADMIN_TOKEN || undefined,
    dataDir,
    host: env.HOST || '0.0.0.0',
    httpPort: int(env, 'HTTP_PORT', 8080, 0, 65535, fail),
    grpcPort: int(env, 'GRPC_PORT', 8081, 0, 65535, fail),
    adminPort: int(env, 'ADMIN_PORT', 8082, 0, 65535, fail),
    failureMode: oneOf(env, 'FAILURE_MODE', ['closed', 'open', 'local'] as const, 'closed', fail),
    redisTimeoutMs: int(env, 'REDIS_TIMEOUT_MS', 50, 1, 60_000, fail),
    overLimitCache: oneOf(env, 'OVER_LIMIT_CACHE', ['on', 'off'] as const, 'off', fail) === 'on',
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info', fail),
    policyFile: env.POLICY_FILE || undefined,
    usageFlushMs: int(env, 'USAGE_FLUSH_MS', 1000, 50, 3_600_000, fail),
  };
  if (config.adminToken !== undefined && config.adminToken.length < 16) fail('ADMIN_TOKEN', 'must be at least 16 characters');
  if (problems.length > 0) throw new InputError(problems);
  return Object.freeze(config);
}

function counters(env: Env, fail: (name: string, message: string) => void): CountersConfig {
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = env.REDIS_CLUSTER_NODES.split(',').map((entry) => {
      const [host, port] = entry.trim().split(':');
      const portNumber = Number(port);
      if (!host || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) fail('REDIS_CLUSTER_NODES', `expected host:port,… but got "${entry.trim()}"`);
      return { host: host ?? '', port: portNumber };
    });
    return { kind: 'redis-cluster', nodes };
  }
  if (env.REDIS_URL) return { kind: 'redis', url: url(env, 'REDIS_URL', ['redis:', 'rediss:'], fail) };
  return { kind: 'memory' };
}

function url(env: Env, name: string, protocols: string[], fail: (name: string, message: string) => void): string {
  const value = env[name]!;
  try {
    if (protocols.includes(new URL(value).protocol)) return value;
  } catch {
    // fall through to the error below; the value itself may hold a password, so it is not echoed
  }
  fail(name, `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number, fail: (name: string, message: string) => void): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) fail(name, `expected an integer from ${min} to ${max} but got "${raw}"`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T, fail: (name: string, message: string) => void): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  fail(name, `expected one of ${allowed.join(', ')} but got "${raw}"`);
  return fallback;
}
