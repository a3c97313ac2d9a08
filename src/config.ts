// Environment → one frozen, typed Config, validated once at start. The only reader of process.env.

import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { InputError } from './errors.js';

/** RLS_RESPONSE_HEADERS values (the same as a domain's `response_headers`; see src/policy/ratelimit-rules.ts). */
const RLS_RESPONSE_HEADERS = ['none', 'erl', 'ietf'] as const;
type RlsResponseHeaders = (typeof RLS_RESPONSE_HEADERS)[number];

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
  /** SETTLE_TOKEN: the bearer of POST /internal/usage/settle; unset = that route is not served. */
  settleToken: string | undefined;
  dataDir: string;
  host: string;
  httpPort: number;
  grpcPort: number;
  /** GRPC_SERVER: lean (node:http2, default) or grpc-js (the fallback) serves GRPC_PORT. */
  grpcServer: 'lean' | 'grpc-js';
  adminPort: number;
  failureMode: FailureMode;
  redisTimeoutMs: number;
  /** MAX_INFLIGHT: decisions in flight in this replica past which a call is shed as `overloaded`. */
  maxInflight: number;
  /** PG_TIMEOUT_MS: the longest a key lookup waits on Postgres before the decision answers without it. */
  pgTimeoutMs: number;
  /** OVER_LIMIT_CACHE=on: rate-limit denials answered in-process until their retry time (see over-limit-cache.ts). */
  overLimitCache: boolean;
  logLevel: LogLevel;
  policyFile: string | undefined;
  /** USAGE_FLUSH_MS: ms between usage flushes from the counters to Postgres. */
  usageFlushMs: number;
  /** QUOTA_THRESHOLDS: fractions of the period quota (0 < f <= 10), one quota.threshold event each per period. */
  quotaThresholds: readonly number[];
  /**
   * TRUSTED_PROXIES (CIDRs), plus loopback and private ranges with TRUST_PROXY=on: the client address is
   * the rightmost X-Forwarded-For hop not in them (client-address.ts). Empty: the socket address.
   */
  trustedProxies: readonly Subnet[];
  signup: SignupConfig;
  export: ExportConfig;
  /** TOLLGATE_KEY: the API key `tollgate check` sends when --key is absent (a secret: never logged). */
  cliKey: string | undefined;
  /** TOLLGATE_COMMIT: the commit the image was built from (a Dockerfile build arg), else "unknown". */
  buildCommit: string;
  /** STRIPE_WEBHOOK_SECRET set: POST /v1/billing/stripe moves accounts between tiers. */
  stripeWebhook: StripeWebhookConfig | undefined;
  /** Envoy's rate-limit service, with envoyproxy/ratelimit's own variables (see rlsConfig below). */
  rls: RlsConfig;
}

/** Inbound Stripe webhooks (src/payments/). */
export interface StripeWebhookConfig {
  /** STRIPE_WEBHOOK_SECRET (`whsec_…`; a secret: never logged). */
  secret: string;
  /** PAYMENT_GRACE (default 3d): past_due keeps the tier, a failed payment suspends, only after this. */
  graceMs: number;
}

/** A CIDR, parsed: `10.0.0.0/8` → { address: '10.0.0.0', prefix: 8, type: 'ipv4' }. */
export interface Subnet {
  address: string;
  prefix: number;
  type: 'ipv4' | 'ipv6';
}

/** TRUST_PROXY=on: loopback and private ranges (RFC 1918, RFC 4193 unique local). */
export const PRIVATE_RANGES: readonly string[] = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '::1/128',
  'fc00::/7',
];

/** Where the exporter delivers outbox rows (usage → Stripe if set, else the webhook; quota.threshold → the webhook). */
export interface ExportConfig {
  /** STRIPE_API_KEY (a secret: never logged), STRIPE_METER_EVENT, STRIPE_API_BASE (tests: a local fake). */
  stripe:
    | {
        apiKey: string;
        meterEvent: string;
        apiBase: { host: string; port: number; protocol: 'http' | 'https' } | undefined;
      }
    | undefined;
  /** EXPORT_WEBHOOK_URL + EXPORT_WEBHOOK_SECRET (HMAC-SHA256 key; a secret). */
  webhook: { url: string; secret: string } | undefined;
  /** EXPORT_IN_SERVE=on (default): `serve` runs the exporter when a sink is set; off = only `tollgate export`. */
  inServe: boolean;
  /** EXPORT_POLL_MS: ms between polls when nothing is due. */
  pollMs: number;
  /** EXPORT_BATCH: rows claimed per transaction. */
  batchSize: number;
  /** EXPORT_MAX_ATTEMPTS: failed deliveries after which a row is `failed` (kept; retried by the admin API). */
  maxAttempts: number;
  /** EXPORT_BACKOFF_BASE_MS / EXPORT_BACKOFF_MAX_MS: exponential backoff with jitter, capped. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** EXPORT_TIMEOUT_MS: one delivery's time limit. */
  timeoutMs: number;
}

/** Public sign-up (POST /v1/signup). */
export interface SignupConfig {
  /** SIGNUP_ENABLED=on; off by default. */
  enabled: boolean;
  /** SIGNUP_TIER: the tier new accounts start on (default free). */
  tier: string;
  /** SIGNUP_PER_IP_PER_HOUR / SIGNUP_GLOBAL_PER_MINUTE: sign-ups allowed per client address and in total. */
  perIpPerHour: number;
  globalPerMinute: number;
  /** SIGNUP_SECRET (a secret; required when enabled): keys the stored mailbox HMAC and seals signup.verify rows. */
  secret: string;
  /** SIGNUP_CONFIRM=on (default): the key is issued only at POST /v1/signup/confirm; off: at once (demos). */
  confirm: boolean;
  /** SIGNUP_TOKEN_TTL (e.g. 24h, 30m): ms a confirmation token stays valid. */
  tokenTtlMs: number;
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const problems: Array<{ path: string; message: string }> = [];
  const fail = (name: string, message: string) => problems.push({ path: name, message });
  const dataDir = resolve(env.DATA_DIR || '.data');
  const config: Config = {
    database: env.DATABASE_URL
      ? { kind: 'postgres', url: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], fail) }
      : { kind: 'pglite', dataDir },
    counters: counters(env, fail),
    adminToken: env.ADMIN_TOKEN || undefined,
    settleToken: env.SETTLE_TOKEN || undefined,
    dataDir,
    // Embedded mode is a demo with a printed admin token: local only unless HOST says otherwise.
    host: host(env, env.DATABASE_URL ? '0.0.0.0' : '127.0.0.1', fail),
    httpPort: int(env, 'HTTP_PORT', 8080, 0, 65535, fail),
    grpcPort: int(env, 'GRPC_PORT', 8081, 0, 65535, fail),
    grpcServer: oneOf(env, 'GRPC_SERVER', ['lean', 'grpc-js'] as const, 'lean', fail),
    adminPort: int(env, 'ADMIN_PORT', 8082, 0, 65535, fail),
    failureMode: oneOf(env, 'FAILURE_MODE', ['closed', 'open', 'local'] as const, 'closed', fail),
    redisTimeoutMs: int(env, 'REDIS_TIMEOUT_MS', 50, 1, 60_000, fail),
    maxInflight: int(env, 'MAX_INFLIGHT', 10_000, 1, 10_000_000, fail),
    pgTimeoutMs: int(env, 'PG_TIMEOUT_MS', 250, 1, 60_000, fail),
    overLimitCache: oneOf(env, 'OVER_LIMIT_CACHE', ['on', 'off'] as const, 'off', fail) === 'on',
    logLevel: oneOf(
      env,
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      'info',
      fail,
    ),
    policyFile: env.POLICY_FILE || undefined,
    usageFlushMs: int(env, 'USAGE_FLUSH_MS', 1000, 50, 3_600_000, fail),
    quotaThresholds: fractions(env, 'QUOTA_THRESHOLDS', '0.8,1.0', fail),
    trustedProxies: trustedProxies(env, fail),
    signup: {
      enabled: oneOf(env, 'SIGNUP_ENABLED', ['on', 'off'] as const, 'off', fail) === 'on',
      tier: env.SIGNUP_TIER || 'free',
      perIpPerHour: int(env, 'SIGNUP_PER_IP_PER_HOUR', 5, 1, 1_000_000, fail),
      globalPerMinute: int(env, 'SIGNUP_GLOBAL_PER_MINUTE', 60, 1, 1_000_000, fail),
      secret: env.SIGNUP_SECRET ?? '',
      confirm: oneOf(env, 'SIGNUP_CONFIRM', ['on', 'off'] as const, 'on', fail) === 'on',
      tokenTtlMs: duration(env, 'SIGNUP_TOKEN_TTL', '24h', 60_000, 30 * 86_400_000, fail),
    },
    export: exportConfig(env, fail),
    cliKey: env.TOLLGATE_KEY || undefined,
    buildCommit: env.TOLLGATE_COMMIT || 'unknown',
    stripeWebhook: env.STRIPE_WEBHOOK_SECRET
      ? {
          secret: env.STRIPE_WEBHOOK_SECRET,
          graceMs: duration(env, 'PAYMENT_GRACE', '3d', 0, 365 * 86_400_000, fail),
        }
      : undefined,
    rls: rlsConfig(env, fail),
  };
  if (!/^[\w.+-]{1,64}$/.test(config.buildCommit))
    fail('TOLLGATE_COMMIT', 'expected a commit id (letters, digits, . _ + -, at most 64 characters)');
  if (config.adminToken !== undefined && config.adminToken.length < 16)
    fail('ADMIN_TOKEN', 'must be at least 16 characters');
  if (config.settleToken !== undefined && config.settleToken.length < 16)
    fail('SETTLE_TOKEN', 'must be at least 16 characters');
  checkSignup(config, fail);
  if (problems.length > 0) throw new InputError(problems);
  return deepFreeze(config);
}

/** Frozen all the way down: nothing may change the configuration after start. */
function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Sign-up needs its secret, and with confirmation a webhook to carry the tokens to the operator's mailer. */
function checkSignup(config: Config, fail: (name: string, message: string) => void): void {
  const { signup } = config;
  if (signup.secret !== '' && signup.secret.length < 32)
    fail('SIGNUP_SECRET', 'must be at least 32 characters (e.g. `openssl rand -hex 32`)');
  if (!signup.enabled) return;
  if (signup.secret === '')
    fail(
      'SIGNUP_SECRET',
      'is required with SIGNUP_ENABLED=on (it keys the stored mailbox HMAC): at least 32 characters',
    );
  if (signup.confirm && config.export.webhook === undefined)
    fail(
      'EXPORT_WEBHOOK_URL',
      'is required with SIGNUP_ENABLED=on and SIGNUP_CONFIRM=on: confirmation tokens reach your mailer as signup.verify webhooks (or set SIGNUP_CONFIRM=off)',
    );
}

/** `24h`, `30m`, `90s`, `2d` → ms, from min to max. */
function duration(
  env: Env,
  name: string,
  fallback: string,
  min: number,
  max: number,
  fail: (name: string, message: string) => void,
): number {
  const raw = env[name] || fallback;
  const m = raw.match(/^(\d{1,9})(s|m|h|d)$/);
  const ms = m
    ? Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's']
    : Number.NaN;
  if (!(ms >= min && ms <= max)) {
    fail(
      name,
      `expected a duration like 90s, 30m, 12h or 3d (${span(min)} to ${span(max)}) but got "${raw}"`,
    );
    return min;
  }
  return ms;
}

/** ms → the largest whole unit: `0s`, `1m`, `30d`. */
function span(ms: number): string {
  const [unit, size] = (
    [
      ['d', 86_400_000],
      ['h', 3_600_000],
      ['m', 60_000],
    ] as const
  ).find(([, size]) => ms >= size && ms % size === 0) ?? ['s', 1_000];
  return `${ms / size}${unit}`;
}

function trustedProxies(env: Env, fail: (name: string, message: string) => void): Subnet[] {
  const listed = (env.TRUSTED_PROXIES ?? '')
    .split(',')
    .map((cidr) => cidr.trim())
    .filter((cidr) => cidr !== '');
  const bad = listed.filter((cidr) => parseCidr(cidr) === null);
  if (bad.length > 0)
    fail('TRUSTED_PROXIES', `expected CIDRs like 10.0.0.0/8,fd00::/8 but got "${bad.join(',')}"`);
  const onByShorthand = oneOf(env, 'TRUST_PROXY', ['on', 'off'] as const, 'off', fail) === 'on';
  return [...new Set([...(onByShorthand ? PRIVATE_RANGES : []), ...listed])]
    .map(parseCidr)
    .filter((subnet) => subnet !== null);
}

/** `10.0.0.0/8`, `::1/128` or a bare address (a /32 or /128); null when it is not one. */
function parseCidr(text: string): Subnet | null {
  const [address = '', prefixText, extra] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) return null;
  return { address, prefix, type: version === 4 ? 'ipv4' : 'ipv6' };
}

function counters(env: Env, fail: (name: string, message: string) => void): CountersConfig {
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = env.REDIS_CLUSTER_NODES.split(',').map((entry) => {
      const [host, port] = entry.trim().split(':');
      const portNumber = Number(port);
      if (!host || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535)
        fail('REDIS_CLUSTER_NODES', `expected host:port,… but got "${entry.trim()}"`);
      return { host: host ?? '', port: portNumber };
    });
    return { kind: 'redis-cluster', nodes };
  }
  if (env.REDIS_URL) return { kind: 'redis', url: url(env, 'REDIS_URL', ['redis:', 'rediss:'], fail) };
  return { kind: 'memory' };
}

function exportConfig(env: Env, fail: (name: string, message: string) => void): ExportConfig {
  let apiBase: NonNullable<ExportConfig['stripe']>['apiBase'];
  if (env.STRIPE_API_BASE) {
    const base = url(env, 'STRIPE_API_BASE', ['http:', 'https:'], fail);
    try {
      const parsed = new URL(base);
      const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
      apiBase = {
        host: parsed.hostname,
        port: Number(parsed.port || (protocol === 'http' ? 80 : 443)),
        protocol,
      };
    } catch {
      // reported by url()
    }
  }
  if (env.EXPORT_WEBHOOK_URL && !env.EXPORT_WEBHOOK_SECRET)
    fail('EXPORT_WEBHOOK_SECRET', 'is required with EXPORT_WEBHOOK_URL (the HMAC key receivers check)');
  return {
    stripe: env.STRIPE_API_KEY
      ? { apiKey: env.STRIPE_API_KEY, meterEvent: env.STRIPE_METER_EVENT || 'api_requests', apiBase }
      : undefined,
    webhook: env.EXPORT_WEBHOOK_URL
      ? {
          url: url(env, 'EXPORT_WEBHOOK_URL', ['http:', 'https:'], fail),
          secret: env.EXPORT_WEBHOOK_SECRET ?? '',
        }
      : undefined,
    inServe: oneOf(env, 'EXPORT_IN_SERVE', ['on', 'off'] as const, 'on', fail) === 'on',
    pollMs: int(env, 'EXPORT_POLL_MS', 1000, 10, 3_600_000, fail),
    batchSize: int(env, 'EXPORT_BATCH', 50, 1, 1000, fail),
    maxAttempts: int(env, 'EXPORT_MAX_ATTEMPTS', 20, 1, 1000, fail),
    backoffBaseMs: int(env, 'EXPORT_BACKOFF_BASE_MS', 1000, 1, 3_600_000, fail),
    backoffMaxMs: int(env, 'EXPORT_BACKOFF_MAX_MS', 300_000, 1, 86_400_000, fail),
    timeoutMs: int(env, 'EXPORT_TIMEOUT_MS', 10_000, 10, 300_000, fail),
  };
}

/** `0.8,1.0` → [0.8, 1]; sorted, distinct; '' or `none` = no events. */
function fractions(
  env: Env,
  name: string,
  fallback: string,
  fail: (name: string, message: string) => void,
): number[] {
  const raw = env[name] ?? fallback;
  if (raw.trim() === '' || raw.trim() === 'none') return [];
  const values = raw.split(',').map((part) => part.trim());
  const bad = values.filter((v) => !/^\d+(\.\d{1,4})?$/.test(v) || Number(v) <= 0 || Number(v) > 10);
  if (bad.length > 0)
    fail(
      name,
      `expected fractions of the quota like 0.8,1.0 (each > 0, at most 10, 4 decimals) but got "${bad.join(',')}"`,
    );
  return [...new Set(values.map(Number))].filter((v) => v > 0 && v <= 10).sort((a, b) => a - b);
}

/** A host name or IP address to bind; `localhost:8080` is a common slip (the ports have their own variables). */
function host(env: Env, fallback: string, fail: (name: string, message: string) => void): string {
  const raw = env.HOST;
  if (raw === undefined || raw === '') return fallback;
  if (isIP(raw) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(raw)) return raw;
  fail(
    'HOST',
    `expected a host name or IP address to bind, like 127.0.0.1 or 0.0.0.0, but got "${raw}"${raw.includes(':') ? ' (the ports are HTTP_PORT, GRPC_PORT and ADMIN_PORT)' : ''}`,
  );
  return fallback;
}

function url(
  env: Env,
  name: string,
  protocols: string[],
  fail: (name: string, message: string) => void,
): string {
  const value = env[name]!;
  try {
    if (protocols.includes(new URL(value).protocol)) return value;
  } catch {
    // fall through to the error below; the value itself may hold a password, so it is not echoed
  }
  fail(name, `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return value;
}

function int(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  fail: (name: string, message: string) => void,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max)
    fail(name, `expected an integer from ${min} to ${max} but got "${raw}"`);
  return value;
}

function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
  fail: (name: string, message: string) => void,
): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  fail(name, `expected one of ${allowed.join(', ')} but got "${raw}"`);
  return fallback;
}

/** envoyproxy/ratelimit's settings, read from its own variable names so its deployment carries over. */
export interface RlsConfig {
  /** ERL_CONFIG_DIR, else RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY when either of the first two is set. */
  configDir: string | undefined;
  /** RUNTIME_IGNOREDOTFILES: skip files whose name starts with a dot. */
  ignoreDotFiles: boolean;
  /** MERGE_DOMAIN_CONFIG: files of one domain are merged instead of rejected. */
  mergeDomains: boolean;
  /** SHADOW_MODE: every over-limit answer becomes OK (counted in the stats). */
  shadowMode: boolean;
  /** QUOTA_MODE: every descriptor is a quota descriptor. */
  quotaMode: boolean;
  /** NEAR_LIMIT_RATIO: share of a limit past which hits count as near_limit in the per-rule stats. */
  nearLimitRatio: number;
  /** RLS_RESPONSE_HEADERS: for domains without their own `response_headers`. */
  responseHeaders: RlsResponseHeaders | undefined;
  /** LIMIT_RESPONSE_HEADERS_ENABLED: envoy-counting domains answer `erl` headers by default (else `none`). */
  erlHeadersEnabled: boolean;
  /** LIMIT_LIMIT_HEADER, LIMIT_REMAINING_HEADER, LIMIT_RESET_HEADER. */
  erlHeaderNames: { limit: string; remaining: string; reset: string };
}

function rlsConfig(env: Env, fail: (name: string, message: string) => void): RlsConfig {
  const runtime = env.RUNTIME_ROOT || env.RUNTIME_SUBDIRECTORY;
  const configDir = env.ERL_CONFIG_DIR
    ? resolve(env.ERL_CONFIG_DIR)
    : runtime
      ? resolve(
          join(
            env.RUNTIME_ROOT || '/srv/runtime_data/current',
            env.RUNTIME_SUBDIRECTORY ?? '',
            env.RUNTIME_APPDIRECTORY || 'config',
          ),
        )
      : undefined;
  const ratio = env.NEAR_LIMIT_RATIO || '0.8';
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(ratio))
    fail('NEAR_LIMIT_RATIO', `expected a number from 0 to 1 but got "${ratio}"`);
  const headers = env.RLS_RESPONSE_HEADERS || undefined;
  if (headers !== undefined && !(RLS_RESPONSE_HEADERS as readonly string[]).includes(headers))
    fail('RLS_RESPONSE_HEADERS', `expected one of ${RLS_RESPONSE_HEADERS.join(', ')} but got "${headers}"`);
  return {
    configDir,
    ignoreDotFiles: goBool(env, 'RUNTIME_IGNOREDOTFILES', false, fail),
    mergeDomains: goBool(env, 'MERGE_DOMAIN_CONFIG', false, fail),
    shadowMode: goBool(env, 'SHADOW_MODE', false, fail),
    quotaMode: goBool(env, 'QUOTA_MODE', false, fail),
    nearLimitRatio: Number(ratio),
    responseHeaders: headers as RlsResponseHeaders | undefined,
    erlHeadersEnabled: goBool(env, 'LIMIT_RESPONSE_HEADERS_ENABLED', false, fail),
    erlHeaderNames: {
      limit: env.LIMIT_LIMIT_HEADER || 'RateLimit-Limit',
      remaining: env.LIMIT_REMAINING_HEADER || 'RateLimit-Remaining',
      reset: env.LIMIT_RESET_HEADER || 'RateLimit-Reset',
    },
  };
}

/** Booleans as that service's Go settings read them (strconv.ParseBool). */
function goBool(
  env: Env,
  name: string,
  fallback: boolean,
  fail: (name: string, message: string) => void,
): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
  fail(name, `expected true or false but got "${raw}"`);
  return fallback;
}
