// The fixed-rate section: 2,000 decisions/s offered to Tollgate and to the no-op references —
// gRPC (Check and RLS) with h2load --rps, HTTP with the open-loop node:http client. FIXED_REPEATS
// rounds over every row, so a stall of the machine lands on one run of each row, not on all of one.
// A diagnostic HTTP row runs a second replica with no usage flush, to tell the flush from the rest; the
// floor rows (a no-op server that counts each call in Redis first) say what one Redis round trip on
// these shared cores adds to the tail by itself, and the HTTP one with the books beside it (the same
// server also keeping usage and flushing it into Postgres as Tollgate does) what the round trip and
// the usage flush add together.

import { join } from 'node:path';
import * as C from './config.js';
import { fixedRateHttp, type FixedRateResult } from './fixed-rate.js';
import { CHECK_PATH, RLS_PATH } from './grpc-bodies.js';
import { type LoopDelay, withLoopDelay } from './heap.js';
import { h2loadGrpc } from './load.js';
import { postgresCpuMs } from './postgres-cpu.js';
import { withSteal } from './steal.js';
import type { Report } from './report.js';
import type { RotatingBody } from './rotating-body.js';
import { int, ms } from './stats.js';
import { tollgateCounters } from './tollgate-metrics.js';

export async function runFixedRate(opts: {
  tmp: string;
  ports: {
    grpc: number;
    http: number;
    noopGrpc: number;
    noopHttp: number;
    quietHttp: number;
    /** The floors with Redis: the lean no-op gRPC server and no-op node:http, one batched INCR per call. */
    floorGrpc: number;
    floorHttp: number;
    /** The HTTP floor with Redis that also keeps and flushes usage (bench/servers/books.ts). */
    floorBooksHttp: number;
  };
  /** Heap probes (heap-probe.ts) of the servers: their event-loop delay is read over each run. */
  probes: {
    tollgate: number;
    noopGrpc: number;
    noopHttp: number;
    quiet: number;
    floorGrpc: number;
    floorHttp: number;
    /** The HTTP floor with Redis that also keeps and flushes usage (bench/servers/books.ts). */
    floorBooksHttp: number;
  };
  bodies: { checkAllow: RotatingBody; rlsAllow: RotatingBody };
  keys: string[];
}): Promise<NonNullable<Report['fixedRate']>> {
  const { ports, bodies, probes } = opts;
  const perClient = C.FIXED_RATE / C.GRPC_CLIENTS;
  const grpc = (port: number, path: string, body: RotatingBody, id: string) => (): Promise<FixedRateResult> =>
    body
      .during(() =>
        h2loadGrpc({
          port,
          path,
          bodyFile: body.file,
          seconds: C.FIXED_SECONDS,
          clients: C.GRPC_CLIENTS,
          streams: C.FIXED_GRPC_STREAMS,
          rps: perClient,
          logFile: join(opts.tmp, `fixed-${id}.tsv`),
        }),
      )
      .then((r) => ({ ...r, achievedRate: r.requests / r.seconds }));
  // The HTTP client is this Node process, idle while h2load ran: one unmeasured second at the same
  // rate first warms its code (h2load's needs none), for Tollgate and the reference alike.
  const http = (port: number) => async () => {
    const load = { port, keys: opts.keys, rate: C.FIXED_RATE, connections: C.FIXED_HTTP_CONNECTIONS };
    await fixedRateHttp({ ...load, seconds: 1 });
    return fixedRateHttp({ ...load, seconds: C.FIXED_SECONDS });
  };
  // A Tollgate row names the HTTP port its key-cache misses are read from.
  type Plan = [string, string, 'tollgate' | 'reference', () => Promise<FixedRateResult>, number, number?];
  const plan: Plan[] = [
    [
      'grpc-allow',
      'gRPC ext_authz Check (allow)',
      'tollgate',
      grpc(ports.grpc, CHECK_PATH, bodies.checkAllow, 'grpc-allow'),
      probes.tollgate,
      ports.http,
    ],
    [
      'grpc-noop',
      'gRPC no-op grpc-js Check (reference)',
      'reference',
      grpc(ports.noopGrpc, CHECK_PATH, bodies.checkAllow, 'grpc-noop'),
      probes.noopGrpc,
    ],
    [
      'grpc-floor',
      'gRPC lean server + one batched Redis INCR per call, Check (floor with Redis, diagnostic)',
      'reference',
      grpc(ports.floorGrpc, CHECK_PATH, bodies.checkAllow, 'grpc-floor'),
      probes.floorGrpc,
    ],
    [
      'grpc-rls-allow',
      'gRPC RLS ShouldRateLimit (allow)',
      'tollgate',
      grpc(ports.grpc, RLS_PATH, bodies.rlsAllow, 'grpc-rls-allow'),
      probes.tollgate,
      ports.http,
    ],
    [
      'grpc-rls-noop',
      'gRPC no-op grpc-js ShouldRateLimit (reference)',
      'reference',
      grpc(ports.noopGrpc, RLS_PATH, bodies.rlsAllow, 'grpc-rls-noop'),
      probes.noopGrpc,
    ],
    [
      'grpc-rls-floor',
      'gRPC lean server + one batched Redis INCR per call, ShouldRateLimit (floor with Redis, diagnostic)',
      'reference',
      grpc(ports.floorGrpc, RLS_PATH, bodies.rlsAllow, 'grpc-rls-floor'),
      probes.floorGrpc,
    ],
    ['http-allow', 'HTTP /check (allow)', 'tollgate', http(ports.http), probes.tollgate, ports.http],
    ['http-noop', 'HTTP no-op node:http (reference)', 'reference', http(ports.noopHttp), probes.noopHttp],
    [
      'http-floor',
      'HTTP no-op node:http + one batched Redis INCR per call (floor with Redis, diagnostic)',
      'reference',
      http(ports.floorHttp),
      probes.floorHttp,
    ],
    [
      'http-floor-books',
      'HTTP no-op node:http + one batched Redis INCR per call + the usage flush (floor with Redis and the books, diagnostic)',
      'reference',
      http(ports.floorBooksHttp),
      probes.floorBooksHttp,
    ],
    [
      'http-allow-quiet',
      'HTTP /check (allow), a replica with no usage flush (diagnostic)',
      'tollgate',
      http(ports.quietHttp),
      probes.quiet,
      ports.quietHttp,
    ],
  ];
  const only = C.FIXED_ONLY;
  if (only) {
    const unknown = only.filter((id) => !plan.some(([planned]) => planned === id));
    if (unknown.length > 0) throw new Error(`BENCH_FIXED: unknown fixed-rate row ${unknown.join(', ')}`);
    plan.splice(0, plan.length, ...plan.filter(([id]) => only.includes(id)));
  }
  const results = new Map<string, Array<[FixedRateResult, LoopDelay, number | null, number, number]>>();
  // Key-cache misses during a Tollgate run: each is a decision that waited on Postgres, a wait the
  // event-loop delay cannot show.
  const misses = async (port: number | undefined) =>
    port === undefined ? null : (await tollgateCounters(port)).keyMisses;
  for (let round = 1; round <= C.FIXED_REPEATS; round++) {
    for (const [id, , , fn, probe, metricsPort] of plan) {
      const before = await misses(metricsPort);
      // Postgres shares these two cores: its CPU during a run is work (Tollgate's usage flush) that
      // took a core from the server or the load client, as an app's database would not.
      const [pgBefore, startedAt] = [await postgresCpuMs(), performance.now()];
      const [[result, delay], steal] = await withSteal(() => withLoopDelay(probe, fn));
      const pgPerSecond = ((await postgresCpuMs()) - pgBefore) / ((performance.now() - startedAt) / 1000);
      const after = await misses(metricsPort);
      const keyMisses = before === null || after === null ? null : after - before;
      results.set(id, [...(results.get(id) ?? []), [result, delay, keyMisses, pgPerSecond, steal]]);
      C.log(
        `fixed ${C.FIXED_RATE}/s ${id} #${round}: ${int(result.achievedRate)}/s p50 ${ms(result.p50)} p99 ${ms(result.p99)} ms, errors ${result.errors} ${JSON.stringify(result.statuses)}; server event-loop delay p99 ${ms(delay.p99)} max ${ms(delay.max)} ms; key-cache misses ${keyMisses ?? '-'}; Postgres CPU ${pgPerSecond.toFixed(1)} ms/s; CPU steal ${steal.toFixed(1)} ms/s`,
      );
    }
  }
  const runs = plan.map(([id, label, kind]) => {
    const all = results.get(id)!.map(([result]) => result);
    const median = [...all].sort((a, b) => a.p99 - b.p99)[Math.floor(all.length / 2)]!;
    const errors = all.reduce((sum, r) => sum + r.errors, 0);
    const loopDelays = results.get(id)!.map(([, delay]) => delay);
    const keyMisses = results.get(id)!.map(([, , n]) => n);
    const postgresCpu = results.get(id)!.map(([, , , cpu]) => cpu);
    const steal = results.get(id)!.map(([, , , , ms]) => ms);
    const runs = { p99s: all.map((r) => r.p99), loopDelays, keyMisses, postgresCpu, steal };
    return { id, label, kind, result: { ...median, errors }, ...runs };
  });
  return {
    offered: C.FIXED_RATE,
    seconds: C.FIXED_SECONDS,
    grpcClient: `h2load --rps ${perClient} -c ${C.GRPC_CLIENTS} -m ${C.FIXED_GRPC_STREAMS} -t 1 (latency from each request's send, --log-file; a due request waits only if a client already has ${C.FIXED_GRPC_STREAMS} in flight)`,
    httpClient: `open-loop node:http client, ${C.FIXED_HTTP_CONNECTIONS} keep-alive connections opened first, after 1 s of unmeasured load at the same rate (bench/lib/fixed-rate.ts; latency from the intended send time; wrk2 is not packaged for Debian)`,
    runs,
  };
}
