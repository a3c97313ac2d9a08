// `npm run bench`: Tollgate's decision paths against their ceilings and against rate-limiter-flexible.
// Starts a private Redis, a fresh Postgres database, Tollgate (`node dist/main.js`) and the reference
// servers on core 0, drives load from core 1, prints a table and writes bench/results/latest.{json,md}.
// Knobs (env): BENCH_SECONDS (per run, 4), BENCH_REPS (runs per row, 3), BENCH_KEYS (1000),
// BENCH_MEMORY_KEYS (100000), BENCH_MILLION_SECONDS (10), BENCH_PROFILE (auto | always | never).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { CheckResponse } from '../src/generated/envoy/service/auth/v3/external_auth.js';
import { checkHeaders, fixedRate, GRPC_PATH, grpcBody, h2loadGrpc, LOAD_CORE, RotatingBody, warmKeys, wrkHttp, type LoadResult } from './lib/load.js';
import { freePort, rssKiB, sleep, startProc, type Proc } from './lib/procs.js';
import { summarizeProfile } from './lib/profile.js';
import { median, ms, int } from './lib/stats.js';
import { accountBytes, commandDelta, commandStats, createBenchDb, insertAccounts, insertKeys, machine, monitorSample, usedMemory, xactCommit, type BenchDb, type MonitorSample } from './lib/stores.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // bench/.build/bench/run.js → repo root
const BENCH = join(ROOT, 'bench');
const RESULTS = join(BENCH, 'results');
const SERVER_CORE = 0;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** Seconds of the next closed-loop run (SECONDS, or 1 for the JIT warm-up). */
let runSeconds = SECONDS;
const REPS = Number(process.env.BENCH_REPS ?? 3);
const KEYS = Number(process.env.BENCH_KEYS ?? 1000);
const MEMORY_KEYS = Number(process.env.BENCH_MEMORY_KEYS ?? 100_000);
const MILLION_SECONDS = Number(process.env.BENCH_MILLION_SECONDS ?? 10);
const PROFILE = process.env.BENCH_PROFILE ?? 'auto';
/** In flight per run, both transports: gRPC 4 connections × 16 streams (Envoy multiplexes), HTTP 64 keep-alive connections (nginx upstream pool). */
const GRPC_CLIENTS = 4;
const GRPC_STREAMS = 16;
const HTTP_CONNECTIONS = 64;
const FIXED_RATE = 2000;
const FIXED_SECONDS = 5;
/** Longer than Postgres' idle stats flush interval (PGSTAT_IDLE_INTERVAL, 10 s), so xact_commit is complete. */
const PG_STATS_SETTLE_MS = Number(process.env.BENCH_PG_SETTLE_MS ?? 11_500);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

type Target = 'tollgate' | 'reference';
interface Row {
  id: string;
  label: string;
  kind: Target;
  transport: 'grpc' | 'http';
  path: 'allow' | 'deny' | 'ceiling';
  run: (logFile: string) => Promise<LoadResult>;
  results: LoadResult[];
  redisCalls: number;
  redisByCommand: Record<string, number>;
}

async function main() {
  execFileSync('taskset', ['-a', '-cp', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
  const tmp = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  mkdirSync(RESULTS, { recursive: true });
  const procs: Proc[] = [];
  let bench: BenchDb | undefined;
  let redis: Redis | undefined;
  const started = Date.now();
  try {
    // ── Stores ───────────────────────────────────────────────────────────────────────────────────
    const redisPort = await freePort();
    const redisProc = await startProc({
      name: 'redis', core: null, cmd: 'redis-server', logDir: tmp, ready: /Ready to accept connections/,
      args: ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    });
    procs.push(redisProc);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    redis = new Redis(redisUrl);
    const redisVersion = (await redis.info('server')).match(/^redis_version:(.*)$/m)![1]!.trim();
    bench = await createBenchDb();
    log(`private Redis :${redisPort}, Postgres database ${bench.name}`);

    // ── Tollgate (migrates and applies the bench policy at start) ────────────────────────────────
    const ports = { http: await freePort(), grpc: await freePort(), admin: await freePort() };
    const tollgateEnv = {
      DATABASE_URL: bench.url, REDIS_URL: redisUrl, HOST: '127.0.0.1', HTTP_PORT: String(ports.http), GRPC_PORT: String(ports.grpc),
      ADMIN_PORT: String(ports.admin), ADMIN_TOKEN, LOG_LEVEL: 'warn', POLICY_FILE: join(BENCH, 'policy.yaml'),
    };
    const startTollgate = async (nodeArgs: string[] = []) => {
      const p = await startProc({ name: 'tollgate', core: SERVER_CORE, cmd: 'node', args: [...nodeArgs, join(ROOT, 'dist/main.js')], env: tollgateEnv, logDir: tmp, });
      await waitHttp(ports.http, '/healthz');
      return p;
    };
    let tollgate = await startTollgate();
    procs.push(tollgate);

    const allow = await insertAccounts(bench.db, 'bench-allow', KEYS);
    const deny = await insertAccounts(bench.db, 'bench-deny', KEYS);
    const allowKeysFile = join(tmp, 'allow-keys.txt');
    const denyKeysFile = join(tmp, 'deny-keys.txt');
    writeFileSync(allowKeysFile, `${allow.keys.join('\n')}\n`);
    writeFileSync(denyKeysFile, `${deny.keys.join('\n')}\n`);
    log(`${KEYS} bench-allow and ${KEYS} bench-deny accounts, one key each`);

    // ── Reference servers (same core, same conditions) ───────────────────────────────────────────
    const ref = async (name: string, file: string, env: Record<string, string> = {}) => {
      const p = await startProc({ name, core: SERVER_CORE, cmd: 'node', args: [join(BENCH, '.build/bench/servers', file)], env, logDir: tmp, ready: /listening (\d+)/ });
      procs.push(p);
      return Number(p.match[1]);
    };
    const noopGrpcPort = await ref('noop-grpc', 'noop-grpc.js');
    const noopHttpPort = await ref('noop-http', 'noop-http.js');
    const rlflexPort = await ref('rlflex-http', 'rlflex-http.js', { REDIS_URL: redisUrl });

    // ── Warm-up: every key looked up once; deny keys spend their one call, then deny ────────────
    const memBefore = await usedMemory(redis);
    const warmAllow = await warmKeys(ports.http, allow.keys);
    const warmDeny1 = await warmKeys(ports.http, deny.keys);
    const warmDeny2 = await warmKeys(ports.http, deny.keys);
    const memAfter = await usedMemory(redis);
    log(`warm-up /check: allow ${JSON.stringify(warmAllow)}, deny 1st ${JSON.stringify(warmDeny1)}, deny 2nd ${JSON.stringify(warmDeny2)}`);
    await warmKeys(rlflexPort, deny.keys, 32, '/check-deny');
    const spot = {
      grpcAllow: await grpcCheck(ports.grpc, allow.keys[0]!),
      grpcDeny: await grpcCheck(ports.grpc, deny.keys[0]!),
      grpcUnknown: await grpcCheck(ports.grpc, 'tg_live_' + 'x'.repeat(32)),
      noopGrpc: await grpcCheck(noopGrpcPort, allow.keys[0]!),
    };
    log(`spot checks (gRPC status · CheckResponse.status.code): ${JSON.stringify(spot)}`);

    // ── Hot-path shape under MONITOR: commands clients send vs commands scripts run ──────────────
    const sampleKeys = (keys: string[]) => keys.slice(0, 200);
    const monitor: Record<string, MonitorSample> = {
      'grpc-allow': await monitorSample(redisUrl, 200, () => grpcMany(ports.grpc, sampleKeys(allow.keys))),
      'grpc-deny': await monitorSample(redisUrl, 200, () => grpcMany(ports.grpc, sampleKeys(deny.keys))),
      'http-allow': await monitorSample(redisUrl, 200, () => warmKeys(ports.http, sampleKeys(allow.keys), 8)),
      'http-deny': await monitorSample(redisUrl, 200, () => warmKeys(ports.http, sampleKeys(deny.keys), 8)),
      'http-rlflex-allow': await monitorSample(redisUrl, 200, () => warmKeys(rlflexPort, sampleKeys(allow.keys), 8)),
      'http-rlflex-deny': await monitorSample(redisUrl, 200, () => warmKeys(rlflexPort, sampleKeys(deny.keys), 8, '/check-deny')),
    };
    /** Commands only ever seen inside scripts: left out of the per-row client command counts. */
    const scriptOnly = new Set(Object.values(monitor).flatMap((m) => Object.keys(m.scriptPerDecision)).filter((c) => Object.values(monitor).every((m) => !(c in m.clientPerDecision))));
    log(`MONITOR: ${JSON.stringify(monitor)}`);

    // ── The rows ─────────────────────────────────────────────────────────────────────────────────
    const allowBody = new RotatingBody(join(tmp, 'allow-body.bin'), allow.keys);
    const denyBody = new RotatingBody(join(tmp, 'deny-body.bin'), deny.keys);
    const rotate = async (body: RotatingBody, fn: () => Promise<LoadResult>) => {
      body.start();
      try {
        return await fn();
      } finally {
        await body.stop();
      }
    };
    const grpcRun = (port: number, body: RotatingBody) => (logFile: string) =>
      rotate(body, () => h2loadGrpc({ port, bodyFile: body.file, seconds: runSeconds, clients: GRPC_CLIENTS, streams: GRPC_STREAMS, logFile }));
    const rotateScript = join(BENCH, 'wrk/rotate-keys.lua');
    const httpRun = (port: number, path: string, keysFile: string) => () =>
      wrkHttp({ port, path, script: rotateScript, scriptArgs: [keysFile, path], seconds: runSeconds, connections: HTTP_CONNECTIONS });
    const row = (id: string, label: string, kind: Target, transport: Row['transport'], path: Row['path'], run: Row['run']): Row =>
      ({ id, label, kind, transport, path, run, results: [], redisCalls: 0, redisByCommand: {} });
    const rows: Row[] = [
      row('grpc-noop', 'gRPC · no-op @grpc/grpc-js (ceiling)', 'reference', 'grpc', 'ceiling', grpcRun(noopGrpcPort, allowBody)),
      row('grpc-allow', 'gRPC ext_authz Check · allow', 'tollgate', 'grpc', 'allow', grpcRun(ports.grpc, allowBody)),
      row('grpc-deny', 'gRPC ext_authz Check · deny (429)', 'tollgate', 'grpc', 'deny', grpcRun(ports.grpc, denyBody)),
      row('http-noop', 'HTTP · no-op node:http (ceiling)', 'reference', 'http', 'ceiling', httpRun(noopHttpPort, '/check', allowKeysFile)),
      row('http-rlflex-allow', 'HTTP · rate-limiter-flexible · allow', 'reference', 'http', 'allow', httpRun(rlflexPort, '/check', allowKeysFile)),
      row('http-rlflex-deny', 'HTTP · rate-limiter-flexible · deny', 'reference', 'http', 'deny', httpRun(rlflexPort, '/check-deny', denyKeysFile)),
      row('http-allow', 'HTTP /check · allow', 'tollgate', 'http', 'allow', httpRun(ports.http, '/check', allowKeysFile)),
      row('http-deny', 'HTTP /check · deny (403 + X-Tollgate-Status 429)', 'tollgate', 'http', 'deny', httpRun(ports.http, '/check', denyKeysFile)),
    ];
    // JIT warm-up of every server and path (not recorded).
    runSeconds = 1;
    for (const r of rows) await r.run(join(tmp, `${r.id}-jit.tsv`));
    runSeconds = SECONDS;
    log('JIT warm-up done; waiting for Postgres stats to settle');
    await sleep(PG_STATS_SETTLE_MS);
    const pgStart = await xactCommit(bench.admin, bench.name);

    // Key distribution actually achieved by the gRPC rotation: usage counters around the first gRPC allow run.
    let grpcKeyDistribution: Record<string, number> | undefined;
    for (let rep = 0; rep < REPS; rep++) {
      for (const r of rows) {
        const usageBefore = r.id === 'grpc-allow' && rep === 0 ? await usageCalls(redis, allow.accountIds) : undefined;
        const before = await commandStats(redis);
        const result = await r.run(join(tmp, `${r.id}-${rep}.tsv`));
        const delta = commandDelta(before, await commandStats(redis));
        if (usageBefore) grpcKeyDistribution = distribution(usageBefore, await usageCalls(redis, allow.accountIds));
        r.results.push(result);
        for (const [cmd, n] of Object.entries(delta.byCommand)) {
          if (!scriptOnly.has(cmd)) r.redisCalls += n;
          r.redisByCommand[cmd] = (r.redisByCommand[cmd] ?? 0) + n;
        }
        log(`${r.id} #${rep + 1}: ${int(result.rps)}/s p50 ${ms(result.p50)} p99 ${ms(result.p99)} ms, errors ${result.errors}, ${JSON.stringify(result.statuses)}, redis ${(delta.total / result.requests).toFixed(3)}/decision incl. script-internal`);
      }
    }

    // ── Fixed rate: 2,000 decisions/s offered, open loop ────────────────────────────────────────
    const fixedBefore = await commandStats(redis);
    const fixedGrpc = await fixedRate({ transport: 'grpc', port: ports.grpc, keys: allow.keys, rate: FIXED_RATE, seconds: FIXED_SECONDS, connections: GRPC_CLIENTS });
    const fixedHttp = await fixedRate({ transport: 'http', port: ports.http, keys: allow.keys, rate: FIXED_RATE, seconds: FIXED_SECONDS, connections: 16 });
    const fixedRedis = commandDelta(fixedBefore, await commandStats(redis));
    const fixedNoopGrpc = await fixedRate({ transport: 'grpc', port: noopGrpcPort, keys: allow.keys, rate: FIXED_RATE, seconds: FIXED_SECONDS, connections: GRPC_CLIENTS });
    const fixedNoopHttp = await fixedRate({ transport: 'http', port: noopHttpPort, keys: allow.keys, rate: FIXED_RATE, seconds: FIXED_SECONDS, connections: 16 });
    log(`fixed ${FIXED_RATE}/s: gRPC p99 ${ms(fixedGrpc.p99)} ms ${JSON.stringify(fixedGrpc.statuses)}; HTTP p99 ${ms(fixedHttp.p99)} ms ${JSON.stringify(fixedHttp.statuses)}`);

    await sleep(PG_STATS_SETTLE_MS);
    const pgSteady = (await xactCommit(bench.admin, bench.name)) - pgStart;
    const tollgateDecisions = rows.filter((r) => r.kind === 'tollgate').reduce((n, r) => n + r.results.reduce((m, x) => m + x.requests, 0), 0) + fixedGrpc.requests + fixedHttp.requests;
    const steadySeconds = (Date.now() - started) / 1000;
    log(`Postgres: ${pgSteady} transactions for ${tollgateDecisions} decisions in steady state`);

    // ── Redis bytes per active account ──────────────────────────────────────────────────────────
    const sample = async (ids: string[]) => {
      const per = await Promise.all(ids.slice(0, 100).map((id) => accountBytes(redis!, id)));
      return { bytes: median(per.map((p) => p.bytes)), keys: per[0]?.keys ?? [] };
    };
    const redisPerAccount = {
      allow: await sample(allow.accountIds),
      deny: await sample(deny.accountIds),
      usedMemoryDeltaPerAccount: Math.round((memAfter - memBefore) / (2 * KEYS)),
    };

    // ── Memory: RSS with 100,000 cached keys ────────────────────────────────────────────────────
    const rssBefore = rssKiB(tollgate.pid); // after the idle settle above
    const memoryKeys = await insertKeys(bench.db, allow.accountIds, MEMORY_KEYS);
    const t0 = Date.now();
    const warmMemory = await warmKeys(ports.http, memoryKeys, 64);
    const warmSeconds = (Date.now() - t0) / 1000;

    // ── 1,000,000 distinct keys, most unknown ───────────────────────────────────────────────────
    await sleep(PG_STATS_SETTLE_MS);
    const rssAfter = rssKiB(tollgate.pid); // after the same idle settle
    log(`RSS ${Math.round(rssBefore / 1024)} MiB → ${Math.round(rssAfter / 1024)} MiB after ${MEMORY_KEYS} keys (${JSON.stringify(warmMemory)}, ${int(MEMORY_KEYS / warmSeconds)} cold lookups/s)`);

    const pgMillionStart = await xactCommit(bench.admin, bench.name);
    const redisMillionBefore = await commandStats(redis);
    const million = await wrkHttp({ port: ports.http, path: '/check', script: join(BENCH, 'wrk/million-keys.lua'), scriptArgs: [allowKeysFile], seconds: MILLION_SECONDS, connections: HTTP_CONNECTIONS });
    const redisMillion = commandDelta(redisMillionBefore, await commandStats(redis));
    await sleep(PG_STATS_SETTLE_MS);
    const pgMillion = (await xactCommit(bench.admin, bench.name)) - pgMillionStart;
    log(`1M keys: ${int(million.rps)}/s, ${pgMillion} Postgres transactions for ${million.requests} decisions (${million.raw.distinct_unknown} distinct unknown keys)`);

    // ── Targets ─────────────────────────────────────────────────────────────────────────────────
    const byId = new Map(rows.map((r) => [r.id, r]));
    const rps = (id: string) => median(byId.get(id)!.results.map((x) => x.rps));
    const targets: Array<{ target: string; value: string; met: boolean }> = [];
    const ratio = (name: string, a: string, b: string, min: number) => {
      const v = rps(a) / rps(b);
      targets.push({ target: `${name} ≥ ${min < 1 ? `${Math.round(min * 100)}%` : `${min}×`}`, value: min < 1 ? `${(v * 100).toFixed(0)}%` : `${v.toFixed(2)}×`, met: v >= min });
    };
    ratio('gRPC Check allow / no-op grpc-js', 'grpc-allow', 'grpc-noop', 0.8);
    ratio('gRPC Check deny / no-op grpc-js', 'grpc-deny', 'grpc-noop', 0.8);
    ratio('HTTP /check allow / rate-limiter-flexible allow', 'http-allow', 'http-rlflex-allow', 1.25);
    ratio('HTTP /check deny / rate-limiter-flexible deny', 'http-deny', 'http-rlflex-deny', 1.25);
    ratio('HTTP /check allow / no-op node:http', 'http-allow', 'http-noop', 0.55);
    ratio('HTTP /check deny / no-op node:http', 'http-deny', 'http-noop', 0.55);
    for (const r of rows.filter((x) => x.kind === 'tollgate')) {
      const per = r.redisCalls / r.results.reduce((n, x) => n + x.requests, 0);
      const mon = monitor[r.id]!;
      const sent = Object.values(mon.clientPerDecision).reduce((n, x) => n + x, 0);
      const inside = Object.values(mon.scriptPerDecision).reduce((n, x) => n + x, 0);
      targets.push({
        target: `${r.id}: exactly 1 Redis command per decision`,
        value: `${per.toFixed(3)} under load (commandstats); MONITOR: ${Object.entries(mon.clientPerDecision).map(([c, n]) => `${c} ${n}`).join(', ')} sent, ${inside.toFixed(0)} run inside the script`,
        met: Math.abs(per - 1) < 0.005 && Math.abs(sent - 1) < 0.005,
      });
    }
    const pgPer = pgSteady / tollgateDecisions;
    targets.push({ target: '0 Postgres queries per decision in steady state', value: `${pgPer.toFixed(5)} (${pgSteady} transactions / ${int(tollgateDecisions)} decisions)`, met: pgPer < 0.001 });
    targets.push({ target: `gRPC p99 ≤ 2 ms at ${FIXED_RATE}/s offered`, value: `${ms(fixedGrpc.p99)} ms`, met: fixedGrpc.p99 <= 2000 && fixedGrpc.errors === 0 });
    targets.push({ target: `HTTP p99 ≤ 2 ms at ${FIXED_RATE}/s offered`, value: `${ms(fixedHttp.p99)} ms`, met: fixedHttp.p99 <= 2000 && fixedHttp.errors === 0 });

    // ── Profile when a target is missed ─────────────────────────────────────────────────────────
    let profile: ReturnType<typeof summarizeProfile> | undefined;
    if (PROFILE === 'always' || (PROFILE === 'auto' && targets.some((t) => !t.met))) {
      log('a target was missed: profiling Tollgate (node --cpu-prof) over one gRPC allow and one HTTP allow run');
      await tollgate.stop();
      const profDir = join(tmp, 'prof');
      tollgate = await startTollgate(['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
      procs.push(tollgate);
      await warmKeys(ports.http, allow.keys);
      await byId.get('grpc-allow')!.run(join(tmp, 'prof-grpc.tsv'));
      await byId.get('http-allow')!.run(join(tmp, 'prof-http.tsv'));
      await tollgate.stop();
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) profile = summarizeProfile(join(profDir, file));
    }

    // ── Report ──────────────────────────────────────────────────────────────────────────────────
    const report = {
      date: new Date().toISOString(),
      machine: machine(redisVersion),
      setup: {
        cores: `servers (Tollgate, references) pinned to core ${SERVER_CORE}; h2load / wrk / the bench on core ${LOAD_CORE}; Redis (private instance) and Postgres (shared server) unpinned`,
        runs: `${REPS} runs of ${SECONDS} s per row, interleaved round-robin across rows; medians reported`,
        grpcLoad: `h2load -c ${GRPC_CLIENTS} -m ${GRPC_STREAMS} -t 1 (${GRPC_CLIENTS * GRPC_STREAMS} in flight)`,
        httpLoad: `wrk -t 1 -c ${HTTP_CONNECTIONS} (${HTTP_CONNECTIONS} in flight), Lua rotates x-api-key per request`,
        keys: `${KEYS} distinct keys per path (bench-allow: fixed window 1e9/s, quota unlimited; bench-deny: 1/hour, spent during warm-up)`,
        grpcKeyRotation: `h2load reads the -d body with pread() per request; the bench rewrites the key bytes in place every ~0.2 ms from a worker thread, cycling the ${KEYS} keys (${allowBody.rotations + denyBody.rotations} rotations over all gRPC runs)`,
        grpcKeyDistribution,
        tollgate: 'node dist/main.js, LOG_LEVEL=warn, REDIS_TIMEOUT_MS default (50)',
        postgresCounting: 'pg_stat_database.xact_commit delta of the bench database (pg_stat_statements is not installed): each query outside a transaction is one transaction; read after an 11.5 s settle so idle backends have flushed their stats',
        steadyStateSeconds: Math.round(steadySeconds),
      },
      warmUp: { allow: warmAllow, denyFirst: warmDeny1, denySecond: warmDeny2, spot },
      redisMonitor: { note: 'MONITOR over 200 decisions per path: commands sent by clients vs run inside scripts (INFO commandstats counts both)', scriptOnlyCommands: [...scriptOnly], ...monitor },
      rows: [...rows.map((r) => ({
        id: r.id, label: r.label, kind: r.kind,
        rps: median(r.results.map((x) => x.rps)), p50Us: median(r.results.map((x) => x.p50)), p90Us: median(r.results.map((x) => x.p90)), p99Us: median(r.results.map((x) => x.p99)),
        runs: r.results.map((x) => ({ rps: Math.round(x.rps), p50Us: x.p50, p90Us: x.p90, p99Us: x.p99, errors: x.errors, statuses: x.statuses })),
        redisCommandsPerDecision: r.redisCalls / r.results.reduce((n, x) => n + x.requests, 0),
        redisByCommand: r.redisByCommand,
      })), { id: 'rls', label: 'gRPC RLS ShouldRateLimit', kind: 'tollgate', notImplemented: true }],
      fixedRate: {
        offered: FIXED_RATE, seconds: FIXED_SECONDS, client: 'open loop (bench/lib/load.ts fixedRate), latency from the intended send time, keys rotate per request',
        grpc: fixedGrpc, http: fixedHttp, noopGrpc: fixedNoopGrpc, noopHttp: fixedNoopHttp, redisCommandsPerDecision: fixedRedis.total / (fixedGrpc.requests + fixedHttp.requests),
      },
      postgres: { steadyStateTransactions: pgSteady, decisions: tollgateDecisions, perDecision: pgPer },
      millionKeys: {
        keySpace: '1,000,000 distinct keys: 1,000 valid (bench-allow, 1 request in 4) + 999,000 unknown (3 in 4, id = floor(999000·r³): a long tail and repeating junk)',
        seconds: MILLION_SECONDS, rps: million.rps, p50Us: million.p50, p99Us: million.p99, requests: million.requests,
        distinctUnknownKeysSent: million.raw.distinct_unknown, unknownRequests: million.raw.unknown_requests,
        postgresTransactions: pgMillion, postgresPerDecision: pgMillion / million.requests,
        postgresPerUnknownRequest: pgMillion / million.raw.unknown_requests!,
        redisCommandsPerDecision: redisMillion.total / million.requests, redisByCommand: redisMillion.byCommand,
        statuses: million.statuses,
      },
      memory: {
        rssBeforeMiB: rssBefore / 1024, rssAfterMiB: rssAfter / 1024, keysWarmed: MEMORY_KEYS, warm: warmMemory,
        bytesPerCachedKey: Math.round(((rssAfter - rssBefore) * 1024) / MEMORY_KEYS), coldLookupsPerSecond: MEMORY_KEYS / warmSeconds,
        note: 'the found-key cache is bounded at 100,000 entries (CachedKeyStore maxEntries): 2,000 bench keys were cached before',
      },
      redisPerAccount,
      targets,
      profile,
    };
    writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    const md = markdown(report, rows);
    writeFileSync(join(RESULTS, 'latest.md'), md);
    process.stdout.write(`\n${md}\n`);
    log(`done in ${Math.round((Date.now() - started) / 1000)} s; bench/results/latest.{json,md}`);
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    redis?.disconnect();
    await bench?.drop().catch((err: unknown) => log(`could not drop the bench database: ${String(err)}`));
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function waitHttp(port: number, path: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`nothing answers on :${port}${path}`);
    await sleep(100);
  }
}

/** One raw gRPC Check: "grpc-status · CheckResponse.status.code". */
function grpcCheck(port: number, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': GRPC_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let grpcStatus = '?';
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t) => (grpcStatus = String(t['grpc-status'])));
    stream.on('close', () => {
      session.close();
      const body = Buffer.concat(chunks);
      const code = body.length >= 5 ? CheckResponse.decode(body.subarray(5)).status?.code ?? 0 : 'none';
      resolve(`${grpcStatus}·${code}`);
    });
    stream.end(grpcBody(key));
  });
}

/** Checks each key once over one HTTP/2 session (sequentially). */
async function grpcMany(port: number, keys: string[]): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  for (const key of keys) {
    await new Promise<void>((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': GRPC_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('data', () => {});
      stream.on('close', () => resolve());
      stream.end(grpcBody(key));
    });
  }
  session.close();
}

/** Allowed calls per account so far (decide.lua's usage hash: "<period>|<endpoint>|calls"). */
async function usageCalls(redis: Redis, accountIds: string[]): Promise<number[]> {
  const pipeline = redis.pipeline();
  for (const id of accountIds) pipeline.hgetall(`{a:${id}}:usage`);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([, value]) => Object.entries((value ?? {}) as Record<string, string>).reduce((n, [f, v]) => (f.endsWith('|calls') ? n + Number(v) : n), 0));
}

function distribution(before: number[], after: number[]): Record<string, number> {
  const d = after.map((a, i) => a - before[i]!).sort((a, b) => a - b);
  const total = d.reduce((n, x) => n + x, 0);
  return { keys: d.length, keysUsed: d.filter((x) => x > 0).length, decisions: total, min: d[0]!, p10: d[Math.floor(d.length * 0.1)]!, median: median(d), p90: d[Math.floor(d.length * 0.9)]!, max: d[d.length - 1]! };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function markdown(report: any, rows: Row[]): string {
  const ceiling = (r: Row) => rows.find((x) => x.transport === r.transport && x.path === 'ceiling')!;
  const medRps = (r: Row) => median(r.results.map((x) => x.rps));
  const lines: string[] = [];
  const m = report.machine;
  lines.push(`# Tollgate bench — ${report.date}`, '');
  lines.push(`${m.nproc} cores · ${m.cpu} · ${m.memTotalMiB} MiB · Linux ${m.kernel} · Node ${m.node} · Redis ${m.redis} · ${m.psql} · ${m.h2load} · ${m.wrk}`, '');
  lines.push(`Servers on core 0, load tools on core 1; ${report.setup.runs}. gRPC: ${report.setup.grpcLoad}; HTTP: ${report.setup.httpLoad}. ${report.setup.keys}.`, '');
  lines.push('| Path | decisions/s | p50 ms | p90 ms | p99 ms | Redis cmds sent / decision | vs ceiling |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const per = r.kind === 'tollgate' || r.id.includes('rlflex') ? (r.redisCalls / r.results.reduce((n, x) => n + x.requests, 0)).toFixed(3) : '–';
    const vs = r.path === 'ceiling' ? '100%' : `${Math.round((100 * medRps(r)) / medRps(ceiling(r)))}%`;
    lines.push(`| ${r.label} | ${int(medRps(r))} | ${ms(median(r.results.map((x) => x.p50)))} | ${ms(median(r.results.map((x) => x.p90)))} | ${ms(median(r.results.map((x) => x.p99)))} | ${per} | ${vs} |`);
    if (r.id === 'grpc-deny') lines.push('| gRPC RLS ShouldRateLimit | not implemented yet | | | | | |');
  }
  const f = report.fixedRate;
  lines.push('', `**Fixed rate, ${f.offered} decisions/s offered for ${f.seconds} s** (${f.client}):`, '');
  lines.push('| Transport | achieved/s | p50 ms | p90 ms | p99 ms | errors |', '|---|---:|---:|---:|---:|---:|');
  lines.push(`| gRPC Check (allow) | ${int(f.grpc.achievedRate)} | ${ms(f.grpc.p50)} | ${ms(f.grpc.p90)} | ${ms(f.grpc.p99)} | ${f.grpc.errors} |`);
  lines.push(`| HTTP /check (allow) | ${int(f.http.achievedRate)} | ${ms(f.http.p50)} | ${ms(f.http.p90)} | ${ms(f.http.p99)} | ${f.http.errors} |`);
  lines.push(`| gRPC no-op grpc-js (reference) | ${int(f.noopGrpc.achievedRate)} | ${ms(f.noopGrpc.p50)} | ${ms(f.noopGrpc.p90)} | ${ms(f.noopGrpc.p99)} | ${f.noopGrpc.errors} |`);
  lines.push(`| HTTP no-op node:http (reference) | ${int(f.noopHttp.achievedRate)} | ${ms(f.noopHttp.p50)} | ${ms(f.noopHttp.p90)} | ${ms(f.noopHttp.p99)} | ${f.noopHttp.errors} |`);
  lines.push('', '**Hot-path shape**', '');
  lines.push(`- Redis commands per decision: INFO commandstats deltas on a private Redis, per row above, counting only commands clients send (${report.redisMonitor.scriptOnlyCommands.join(', ')} were seen only inside scripts under MONITOR and are left out; INFO is left out).`);
  for (const [id, mon] of Object.entries(report.redisMonitor)) {
    if (typeof mon !== 'object' || Array.isArray(mon) || mon === null) continue;
    const s = mon as MonitorSample;
    lines.push(`  - ${id} (MONITOR, ${s.decisions} decisions): sent ${Object.entries(s.clientPerDecision).map(([c, n]) => `${c} ${n}`).join(', ') || 'nothing'}; inside the script ${Object.entries(s.scriptPerDecision).map(([c, n]) => `${c} ${n}`).join(', ') || 'nothing'} per decision.`);
  }
  lines.push(`- Postgres queries per decision in steady state: ${report.postgres.perDecision.toFixed(5)} — ${report.postgres.steadyStateTransactions} transactions for ${int(report.postgres.decisions)} decisions (${report.setup.postgresCounting}).`);
  const d = report.setup.grpcKeyDistribution;
  if (d) lines.push(`- gRPC key distribution (allowed calls per key in the first gRPC allow run, from the usage counters): ${d.keysUsed}/${d.keys} keys used, min ${d.min} · p10 ${d.p10} · median ${d.median} · p90 ${d.p90} · max ${d.max} decisions per key — h2load sends in bursts that read the body file at the same moment, so runs of ~32 consecutive decisions share a key (${report.setup.grpcKeyRotation}). HTTP: wrk rotates the keys round-robin per request (every key equally).`);
  const mk = report.millionKeys;
  lines.push(`- 1,000,000-key run (${mk.keySpace}): ${int(mk.rps)} decisions/s, p99 ${ms(mk.p99Us)} ms; ${int(mk.distinctUnknownKeysSent)} distinct unknown keys in ${int(mk.unknownRequests)} unknown-key requests; Postgres ${mk.postgresPerDecision.toFixed(3)} queries per decision (${mk.postgresPerUnknownRequest.toFixed(3)} per unknown-key request; the floor is one per distinct unknown key = ${(mk.distinctUnknownKeysSent / mk.unknownRequests).toFixed(3)}); Redis ${mk.redisCommandsPerDecision.toFixed(3)} per decision.`);
  const mem = report.memory;
  lines.push(`- Sidecar RSS: ${mem.rssBeforeMiB.toFixed(0)} MiB → ${mem.rssAfterMiB.toFixed(0)} MiB after warming ${int(mem.keysWarmed)} more valid keys (≈ ${int(mem.bytesPerCachedKey)} bytes per cached key; cold lookups ran at ${int(mem.coldLookupsPerSecond)}/s).`);
  const rp = report.redisPerAccount;
  lines.push(`- Redis bytes per active account (MEMORY USAGE, median of 100): allow tier ${int(rp.allow.bytes)} B (${rp.allow.keys.join(', ')}), deny tier ${int(rp.deny.bytes)} B (${rp.deny.keys.join(', ')}); INFO used_memory delta over the ${2 * KEYS} warmed accounts: ${int(rp.usedMemoryDeltaPerAccount)} B/account.`);
  lines.push('', '**Targets**', '', '| Target | Measured | |', '|---|---|---|');
  for (const t of report.targets) lines.push(`| ${t.target} | ${t.value} | ${t.met ? 'met' : '**missed**'} |`);
  if (report.profile) {
    lines.push('', `**CPU profile of Tollgate** (node --cpu-prof, one gRPC allow + one HTTP allow run, ${report.profile.totalMs} ms busy): self time by area — ${report.profile.byArea.slice(0, 8).map((a: { area: string; pct: number }) => `${a.area} ${a.pct}%`).join(', ')}`, '');
    lines.push('| Function | Where | self % |', '|---|---|---:|');
    for (const t of report.profile.top) lines.push(`| ${t.fn} | ${t.where} | ${t.pct} |`);
  }
  return `${lines.join('\n')}\n`;
}

await main();
