// `npm run bench`: Tollgate's decision paths against their ceilings and against rate-limiter-flexible.
// Starts a private Redis, a fresh Postgres database, Tollgate (`bin/tollgate-node dist/main.js`, as `npm start`) and the reference
// servers on core 0, drives load from core 1, prints a table and writes bench/results/latest.{json,md}.
// Knobs: bench/lib/config.ts and bench/README.md.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { runRows } from './lib/closed-loop.js';
import * as C from './lib/config.js';
import { runFixedRate } from './lib/fixed-runs.js';
import { heapProbeArgs } from './lib/heap.js';
import { checkBody, RLS_ALLOW_KEY, RLS_DENY_KEY, rlsBody, rlsValues } from './lib/grpc-bodies.js';
import { sampleHotPath } from './lib/hot-path-monitor.js';
import { LOAD_CORE, warmKeys } from './lib/load.js';
import { markdown } from './lib/markdown.js';
import { KEY_CACHE_MAX, measureKeyCache } from './lib/memory.js';
import { runMillionKeys } from './lib/million-keys.js';
import { measureMetering } from './lib/metering.js';
import { measureScriptCost } from './lib/script-cost.js';
import { measureUsageFlush } from './lib/usage-flush.js';
import { postgresAfterRuns, postgresStart } from './lib/postgres-windows.js';
import { freePort, sleep, startProc, type Proc } from './lib/procs.js';
import { summarizeProfile } from './lib/profile.js';
import { rowReport, setupText, type Report } from './lib/report.js';
import { RotatingBody } from './lib/rotating-body.js';
import { burstMarkdown, runBursts } from './lib/burst.js';
import { startOwnRedis } from './lib/own-redis.js';
import { BURST_ROW, buildRows, checkRowIds, selectRows } from './lib/rows.js';
import { createBenchDb, insertAccounts, machine, medianAccountBytes, type BenchDb } from './lib/stores.js';
import { buildTargets } from './lib/targets.js';
import { requireTools } from './lib/tools.js';
import { warmUp } from './lib/warm-up.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // bench/.build/bench/run.js → repo root
const BENCH = join(ROOT, 'bench');
const RESULTS = join(BENCH, 'results');
const { log } = C;

async function main() {
  requireTools();
  checkRowIds(C.ROWS);
  execFileSync('taskset', ['-a', '-cp', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
  const tmp = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  mkdirSync(RESULTS, { recursive: true });
  const procs: Proc[] = [];
  let bench: BenchDb | undefined;
  let redis: Redis | undefined;
  const started = Date.now();
  const skipped = C.ROWS
    ? ['fixed rate', '1,000,000 keys', 'memory', 'profile', 'idle Postgres window', 'usage flush']
    : [];
  try {
    // ── Stores ───────────────────────────────────────────────────────────────────────────────────
    const redisPort = await freePort();
    const redisProc = await startProc({
      name: 'redis',
      core: null,
      cmd: 'redis-server',
      logDir: tmp,
      ready: /Ready to accept connections/,
      args: [
        '--port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'yes',
      ],
    });
    procs.push(redisProc);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    redis = new Redis(redisUrl, { connectionName: 'bench' });
    const redisVersion = (await redis.info('server')).match(/^redis_version:(.*)$/m)![1]!.trim();
    bench = await createBenchDb();
    log(`private Redis :${redisPort}, Postgres database ${bench.name}`);

    // ── Tollgate (migrates and applies the bench policy at start) ────────────────────────────────
    const ports = { http: await freePort(), grpc: await freePort(), admin: await freePort() };
    const tollgateEnv = {
      DATABASE_URL: bench.url,
      REDIS_URL: redisUrl,
      HOST: '127.0.0.1',
      HTTP_PORT: String(ports.http),
      GRPC_PORT: String(ports.grpc),
      ADMIN_PORT: String(ports.admin),
      ADMIN_TOKEN: C.ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      POLICY_FILE: join(BENCH, 'policy.yaml'),
      ...(C.GRPC_SERVER ? { GRPC_SERVER: C.GRPC_SERVER } : {}),
      ...(C.FLUSH_MS ? { USAGE_FLUSH_MS: C.FLUSH_MS } : {}),
    };
    const heapPorts = {
      tollgate: 0,
      noopGrpc: 0,
      noopLean: 0,
      noopLeanRedis: 0,
      noopHttp: 0,
      noopHttpRedis: 0,
      rlflex: 0,
    };
    const startTollgate = async (nodeArgs: string[] = []) => {
      heapPorts.tollgate = await freePort();
      const p = await startProc({
        name: 'tollgate',
        core: C.SERVER_CORE,
        cmd: join(ROOT, 'bin/tollgate-node'),
        args: [...heapProbeArgs(), ...nodeArgs, join(ROOT, 'dist/main.js')],
        env: { ...tollgateEnv, BENCH_HEAP_PORT: String(heapPorts.tollgate) },
        logDir: tmp,
      });
      await waitHttp(ports.http, '/healthz');
      return p;
    };
    let tollgate = await startTollgate(C.TOLLGATE_NODE_ARGS);
    procs.push(tollgate);

    const allow = await insertAccounts(bench.db, 'bench-allow', C.KEYS);
    const deny = await insertAccounts(bench.db, 'bench-deny', C.KEYS);
    const keysFiles = { allow: join(tmp, 'allow-keys.txt'), deny: join(tmp, 'deny-keys.txt') };
    writeFileSync(keysFiles.allow, `${allow.keys.join('\n')}\n`);
    writeFileSync(keysFiles.deny, `${deny.keys.join('\n')}\n`);
    const rlsAllowValues = rlsValues('user', C.KEYS);
    const rlsDenyValues = rlsValues('user', C.KEYS);
    log(
      `${C.KEYS} bench-allow and ${C.KEYS} bench-deny accounts, one key each; ${C.KEYS} RLS descriptor values per path`,
    );

    // ── Reference servers (same core, same conditions) ───────────────────────────────────────────
    const refPids: Record<string, number> = {};
    const ref = async (
      name: string,
      file: string,
      heap: keyof typeof heapPorts,
      env: Record<string, string> = {},
    ) => {
      heapPorts[heap] = await freePort();
      const p = await startProc({
        name,
        core: C.SERVER_CORE,
        cmd: 'node',
        args: [...heapProbeArgs(), join(BENCH, '.build/bench/servers', file)],
        env: { ...env, BENCH_HEAP_PORT: String(heapPorts[heap]) },
        logDir: tmp,
        ready: /listening (\d+)/,
      });
      procs.push(p);
      refPids[name] = p.pid;
      return Number(p.match[1]);
    };
    const refPorts = {
      noopGrpc: await ref('noop-grpc', 'noop-grpc.js', 'noopGrpc'),
      noopLean: await ref('noop-lean', 'noop-lean.js', 'noopLean'),
      noopLeanRedis: await ref('noop-lean-redis', 'noop-lean.js', 'noopLeanRedis', { REDIS_URL: redisUrl }),
      noopHttp: await ref('noop-http', 'noop-http.js', 'noopHttp'),
      noopHttpRedis: await ref('noop-http-redis', 'noop-http.js', 'noopHttpRedis', { REDIS_URL: redisUrl }),
      rlflex: await ref('rlflex-http', 'rlflex-http.js', 'rlflex', { REDIS_URL: redisUrl }),
    };
    const pids = {
      tollgate: tollgate.pid,
      noopGrpc: refPids['noop-grpc']!,
      noopLean: refPids['noop-lean']!,
      noopLeanRedis: refPids['noop-lean-redis']!,
      noopHttp: refPids['noop-http']!,
      noopHttpRedis: refPids['noop-http-redis']!,
      rlflex: refPids['rlflex-http']!,
    };

    // ── Warm-up and spot checks ─────────────────────────────────────────────────────────────────
    const warm = await warmUp({
      redis,
      ports: { grpc: ports.grpc, http: ports.http, noopGrpc: refPorts.noopGrpc, rlflex: refPorts.rlflex },
      keys: { allow: allow.keys, deny: deny.keys },
      rlsValues: { allow: rlsAllowValues, deny: rlsDenyValues },
    });

    // ── BENCH_ROWS=burst: only the burst row, printed (latest.{json,md} are left as they are) ──────
    if (C.ROWS?.size === 1 && C.ROWS.has(BURST_ROW)) {
      const burst = await runBursts({
        httpPort: ports.http,
        grpcPort: ports.grpc,
        keys: allow.keys,
        rlsValues: rlsAllowValues,
      });
      process.stdout.write(`\n${burstMarkdown(burst).join('\n')}\n`);
      return;
    }

    // ── The rows ─────────────────────────────────────────────────────────────────────────────────
    const bodies = {
      checkAllow: new RotatingBody(join(tmp, 'check-allow.bin'), allow.keys, checkBody),
      checkDeny: new RotatingBody(join(tmp, 'check-deny.bin'), deny.keys, checkBody),
      rlsAllow: new RotatingBody(join(tmp, 'rls-allow.bin'), rlsAllowValues, (v) =>
        rlsBody(RLS_ALLOW_KEY, v),
      ),
      rlsDeny: new RotatingBody(join(tmp, 'rls-deny.bin'), rlsDenyValues, (v) => rlsBody(RLS_DENY_KEY, v)),
    };
    const rows = selectRows(
      buildRows({
        benchDir: BENCH,
        ports: { grpc: ports.grpc, http: ports.http, ...refPorts },
        pids,
        heapPorts,
        bodies,
        keysFiles,
      }),
      C.ROWS,
    );
    // JIT warm-up of every server and path (not recorded).
    for (const r of rows) await r.run(1, join(tmp, `${r.id}-jit.tsv`));

    // ── Hot-path shape: MONITOR during a short closed-loop load of each row, per connection ──────
    const hotPath = await sampleHotPath({ redis, redisPort, httpPort: ports.http, rows, tmp });

    // Every key loaded afresh right before the steady window: a key the warm-up loaded and the rows
    // above used while fresh is otherwise first renewed in round 1, up to ~110 s after its load, past
    // the key cache's stale window (one TTL, 60 s, after its 45-60 s fresh time), and that lookup
    // would wait on Postgres. Announced as createKey does; one more pass over the rows loads them.
    await bench.db`select count(pg_notify('tollgate', json_build_object('kind', 'key', 'hash', key_hash)::text))
                   from api_keys`;
    await sleep(1_000); // the change listener drops them from the cache meanwhile
    for (const r of rows) if (r.kind === 'tollgate') await r.run(1, join(tmp, `${r.id}-reload.tsv`));

    log('waiting for Postgres stats to settle');
    await sleep(C.PG_STATS_SETTLE_MS);
    const pgStart = await postgresStart(bench, ports.http);

    // ── Closed-loop runs, interleaved round-robin ────────────────────────────────────────────────
    const grpcKeyDistribution = await runRows({
      redis,
      redisPid: redisProc.pid,
      rows,
      tmp,
      scriptOnly: hotPath.scriptOnly,
      allowAccountIds: allow.accountIds,
    });

    // ── Fixed rate: 2,000 decisions/s offered (gRPC: h2load --rps; HTTP: open-loop node client) ──
    // A second replica whose usage flush never runs during the section (a diagnostic row): its p99
    // against the first's tells the decision path's tail from the flush's background work. No
    // POLICY_FILE: it serves the policy the first applied and writes nothing at start. A Redis of
    // its own, placed like the first's: the first replica's full scan (once a minute) would find
    // its usage and flush it during its runs.
    const startQuiet = async () => {
      const quietPorts = { http: await freePort(), grpc: await freePort(), admin: await freePort() };
      const heapPort = await freePort();
      const quietRedis = await startOwnRedis('redis-quiet', tmp);
      procs.push(quietRedis.proc);
      const { POLICY_FILE: _policy, ...env } = tollgateEnv;
      const proc = await startProc({
        name: 'tollgate-quiet',
        core: C.SERVER_CORE,
        cmd: join(ROOT, 'bin/tollgate-node'),
        args: [...heapProbeArgs(), join(ROOT, 'dist/main.js')],
        env: {
          ...env,
          REDIS_URL: quietRedis.url,
          HTTP_PORT: String(quietPorts.http),
          GRPC_PORT: String(quietPorts.grpc),
          ADMIN_PORT: String(quietPorts.admin),
          USAGE_FLUSH_MS: String(3_600_000),
          BENCH_HEAP_PORT: String(heapPort),
        },
        logDir: tmp,
      });
      procs.push(proc);
      await waitHttp(quietPorts.http, '/healthz');
      await warmKeys(quietPorts.http, allow.keys);
      return { proc, httpPort: quietPorts.http, heapPort };
    };
    // The floor with Redis and the books (a diagnostic row): no-op node:http counting each call in
    // Redis, and keeping and flushing usage as Tollgate does for accounts of its own (books.ts), every
    // flush interval Tollgate uses. A Redis of its own: Tollgate's full scan would find that usage in
    // the shared one and flush some of it.
    const startBooks = async () => {
      const heapPort = await freePort();
      const booksRedis = await startOwnRedis('redis-books', tmp);
      procs.push(booksRedis.proc);
      const proc = await startProc({
        name: 'noop-http-books',
        core: C.SERVER_CORE,
        cmd: 'node',
        args: [...heapProbeArgs(), join(BENCH, '.build/bench/servers/noop-http.js')],
        env: {
          REDIS_URL: booksRedis.url,
          BOOKS_DATABASE_URL: tollgateEnv.DATABASE_URL,
          BOOKS_KEYS_FILE: keysFiles.allow,
          BOOKS_TIER: 'bench-allow',
          ...(C.FLUSH_MS ? { BOOKS_FLUSH_MS: C.FLUSH_MS } : {}),
          BENCH_HEAP_PORT: String(heapPort),
        },
        logDir: tmp,
        ready: /listening (\d+)/,
      });
      procs.push(proc);
      return { port: Number(proc.match[1]), heapPort };
    };
    const quiet = C.ROWS && !C.FIXED_ONLY ? undefined : await startQuiet();
    const books = quiet ? await startBooks() : undefined;
    const fixedRate = !quiet
      ? undefined
      : await runFixedRate({
          tmp,
          ports: {
            grpc: ports.grpc,
            http: ports.http,
            noopGrpc: refPorts.noopGrpc,
            noopHttp: refPorts.noopHttp,
            quietHttp: quiet.httpPort,
            floorGrpc: refPorts.noopLeanRedis,
            floorHttp: refPorts.noopHttpRedis,
            floorBooksHttp: books!.port,
          },
          probes: {
            tollgate: heapPorts.tollgate,
            noopGrpc: heapPorts.noopGrpc,
            noopHttp: heapPorts.noopHttp,
            quiet: quiet.heapPort,
            floorGrpc: heapPorts.noopLeanRedis,
            floorHttp: heapPorts.noopHttpRedis,
            floorBooksHttp: books!.heapPort,
          },
          bodies,
          keys: allow.keys,
        });
    // Its shutdown flush writes what it counted: the books stay whole for the sections after.
    await quiet?.proc.stop();

    // ── Postgres: decision path (Tollgate's key-cache counters) and all transactions, busy vs idle ─
    const postgres = await postgresAfterRuns(bench, ports.http, pgStart, !C.ROWS);

    // ── Burst: 1,000 in flight at once per transport, after the steady-state runs ──────────────────
    const burst =
      !C.ROWS || C.ROWS.has(BURST_ROW)
        ? await runBursts({
            httpPort: ports.http,
            grpcPort: ports.grpc,
            keys: allow.keys,
            rlsValues: rlsAllowValues,
          })
        : undefined;
    if (burst) log(`burst: ${JSON.stringify(burst)}`);

    // ── Memory: RSS with 100,000 cached keys (both readings after an idle settle) ───────────────
    const memory = C.ROWS
      ? undefined
      : await measureKeyCache({
          pid: tollgate.pid,
          httpPort: ports.http,
          db: bench.db,
          accountIds: allow.accountIds,
          count: C.MEMORY_KEYS,
          cachedBefore: Math.min(KEY_CACHE_MAX, 2 * C.KEYS),
          settleMs: C.MEMORY_SETTLE_MS,
        });
    if (memory) log(`memory: ${JSON.stringify(memory)}`);

    // ── 1,000,000 distinct keys, most unknown ───────────────────────────────────────────────────
    const millionKeys = C.ROWS
      ? undefined
      : await runMillionKeys({
          redis,
          bench,
          httpPort: ports.http,
          benchDir: BENCH,
          allowKeysFile: keysFiles.allow,
        });

    // ── The usage flusher's background calls at 1,000 and 100,000 active accounts ───────────────
    const usageFlush = C.ROWS
      ? undefined
      : await measureUsageFlush({ db: bench.db, url: bench.url, tier: 'bench-allow', logDir: tmp });

    // ── Metered calls: a decision with a reservation, and a settle ──────────────────────────────
    const metering = C.ROWS ? undefined : await measureMetering(tmp);

    // ── decide.lua's Redis CPU in isolation, batch and single form, against rate-limiter-flexible ──
    const scriptCost = C.ROWS ? undefined : await measureScriptCost(tmp);

    // ── Redis bytes per active account ──────────────────────────────────────────────────────────
    const redisPerAccount = {
      allow: await medianAccountBytes(redis, allow.accountIds),
      deny: await medianAccountBytes(redis, deny.accountIds),
      usedMemoryDeltaPerAccount: Math.round((warm.memory.afterAccounts - warm.memory.before) / (2 * C.KEYS)),
      usedMemoryDeltaPerRlsCounter: Math.round(
        (warm.memory.afterRls - warm.memory.afterAccounts) / (2 * C.KEYS),
      ),
    };

    const report: Report = {
      date: new Date().toISOString(),
      machine: machine(redisVersion),
      setup: setupText({
        bodies: Object.values(bodies),
        grpcKeyDistribution,
        steadyStateSeconds: postgres.busy.seconds,
      }),
      skipped,
      warmUp: warm.statuses,
      spot: warm.spot,
      redisShape: {
        note: `MONITOR during ${C.MONITOR_SECONDS} s of closed-loop load per row; each command attributed to its connection by CLIENT LIST (CLIENT SETNAME names); decisions = Tollgate's decide count from /metrics (rate-limiter-flexible: the load tool's count)`,
        scriptOnlyCommands: [...hotPath.scriptOnly],
        rows: hotPath.shapes,
        idle: hotPath.idle,
      },
      rows: rows.map(rowReport),
      ...(fixedRate ? { fixedRate } : {}),
      ...(burst ? { burst } : {}),
      postgres,
      ...(millionKeys ? { millionKeys } : {}),
      ...(usageFlush ? { usageFlush } : {}),
      ...(metering ? { metering } : {}),
      ...(scriptCost ? { scriptCost } : {}),
      ...(memory ? { memory } : {}),
      redisPerAccount,
      targets: [],
    };
    report.targets = buildTargets(report);

    // ── Profile when a target is missed ─────────────────────────────────────────────────────────
    if (!C.ROWS && (C.PROFILE === 'always' || (C.PROFILE === 'auto' && report.targets.some((t) => !t.met)))) {
      log('profiling Tollgate (node --cpu-prof) over one gRPC allow and one HTTP allow run');
      await tollgate.stop();
      const profDir = join(tmp, 'prof');
      tollgate = await startTollgate(['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
      procs.push(tollgate);
      await warmKeys(ports.http, allow.keys);
      const byId = new Map(rows.map((r) => [r.id, r]));
      await byId.get('grpc-allow')!.run(C.SECONDS, join(tmp, 'prof-grpc.tsv'));
      await byId.get('http-allow')!.run(C.SECONDS, join(tmp, 'prof-http.tsv'));
      await tollgate.stop();
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) report.profile = summarizeProfile(join(profDir, file));
    }

    writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    const md = markdown(report);
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

await main();
