// The stores of the bench: a private Redis on loopback (so INFO commandstats, reads and used_memory
// count only the bench), a fresh Postgres database on the shared server, bulk accounts and keys,
// counters, and the machine description.

import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import postgres from 'postgres';

export const POSTGRES_ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
export function base32(chars: number): string {
  const bytes = randomBytes(chars);
  let out = '';
  for (let i = 0; i < chars; i++) out += ALPHABET[bytes[i]! & 31];
  return out;
}

export interface BenchDb {
  name: string;
  url: string;
  admin: postgres.Sql;
  db: postgres.Sql;
  drop(): Promise<void>;
}

export async function createBenchDb(): Promise<BenchDb> {
  const name = `tg_bench_${randomBytes(5).toString('hex')}`;
  const admin = postgres(POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const db = postgres(url.toString(), { max: 2, onnotice: () => {} });
  return {
    name,
    url: url.toString(),
    admin,
    db,
    async drop() {
      await db.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export interface BenchAccounts {
  accountIds: string[];
  keys: string[];
}

/** `count` accounts on `tier`, one key each; SQL straight into the schema of 001_init.sql. */
export async function insertAccounts(db: postgres.Sql, tier: string, count: number): Promise<BenchAccounts> {
  const accountIds = Array.from({ length: count }, () => `acc_${base32(16)}`);
  await db`insert into accounts (id, name, tier) select id, id, ${tier} from unnest(${accountIds}::text[]) as t(id)`;
  const keys = await insertKeys(db, accountIds, count);
  return { accountIds, keys };
}

/** `count` keys spread round-robin over `accountIds`, inserted in chunks; returns the plaintext keys. */
export async function insertKeys(db: postgres.Sql, accountIds: string[], count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let start = 0; start < count; start += 20_000) {
    const n = Math.min(20_000, count - start);
    const ids: string[] = [],
      owners: string[] = [],
      hashes: string[] = [],
      prefixes: string[] = [];
    for (let i = 0; i < n; i++) {
      const key = `tg_live_${base32(32)}`;
      keys.push(key);
      ids.push(`key_${base32(16)}`);
      owners.push(accountIds[(start + i) % accountIds.length]!);
      hashes.push(createHash('sha256').update(key).digest('hex'));
      prefixes.push(key.slice(0, 12));
    }
    // Announced like createKey does (src/accounts/api-keys.ts), so a running Tollgate's key filter has them.
    await db`with k as (insert into api_keys (id, account_id, key_hash, prefix)
               select * from unnest(${ids}::text[], ${owners}::text[], ${hashes}::text[], ${prefixes}::text[])
               returning key_hash)
             select count(pg_notify('tollgate', json_build_object('kind', 'key', 'hash', key_hash)::text)) from k`;
  }
  return keys;
}

/** Committed transactions of the bench database (pg_stat_database; flushed by backends ≤ 10 s after they go idle). */
export async function xactCommit(admin: postgres.Sql, name: string): Promise<number> {
  const [row] = await admin`select xact_commit::bigint as n from pg_stat_database where datname = ${name}`;
  return Number(row!.n);
}

/** Calls per command from INFO commandstats, INFO itself left out. */
export async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const text = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    if (m[1] !== 'info') out[m[1]!] = Number(m[2]);
  return out;
}

export function commandDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [cmd, n] of Object.entries(after)) {
    const d = n - (before[cmd] ?? 0);
    if (d > 0) {
      byCommand[cmd] = d;
      total += d;
    }
  }
  return { total, byCommand };
}

/** Read events Redis processed (INFO stats total_reads_processed, all clients): ≈ client round trips, as one read can carry a pipelined batch. */
export async function readsProcessed(redis: Redis): Promise<number> {
  const m = (await redis.info('stats')).match(/^total_reads_processed:(\d+)/m);
  return Number(m![1]);
}

export async function usedMemory(redis: Redis): Promise<number> {
  const m = (await redis.info('memory')).match(/^used_memory:(\d+)/m);
  return Number(m![1]);
}

/** Bytes (MEMORY USAGE, all samples) of the Redis keys of one account: {a:<id>}:*. */
export async function accountBytes(
  redis: Redis,
  accountId: string,
): Promise<{ bytes: number; keys: string[] }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `{a:${accountId}}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  let bytes = 0;
  for (const key of keys) bytes += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  return { bytes, keys: keys.map((k) => k.slice(k.indexOf('}') + 1)) };
}

/** Median bytes of the first 100 accounts, and the key suffixes of the first one. */
export async function medianAccountBytes(
  redis: Redis,
  accountIds: string[],
): Promise<{ bytes: number; keys: string[] }> {
  const per = await Promise.all(accountIds.slice(0, 100).map((id) => accountBytes(redis, id)));
  const sorted = per.map((p) => p.bytes).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return {
    bytes: sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2,
    keys: per[0]?.keys ?? [],
  };
}

export function machine(redisVersion: string): Record<string, string | number> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const mem = readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+)/m)?.[1];
  let postgresVersion = 'unknown';
  try {
    postgresVersion = execFileSync('psql', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // psql is optional: the server version is read over SQL instead
  }
  return {
    // --all: the bench pins itself to the load core, and plain nproc honours that affinity.
    nproc: Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim()),
    cpu: model,
    memTotalMiB: mem ? Math.round(Number(mem) / 1024) : 0,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    redis: redisVersion,
    psql: postgresVersion,
    h2load: execFileSync('h2load', ['--version'], { encoding: 'utf8' }).trim().split('\n')[0]!,
    wrk: (() => {
      try {
        return execFileSync('wrk', ['-v'], { encoding: 'utf8' }).trim().split('\n')[0]!;
      } catch (err) {
        return (
          String((err as { stdout?: string }).stdout ?? '')
            .trim()
            .split('\n')[0] ?? 'wrk'
        );
      }
    })(),
  };
}
