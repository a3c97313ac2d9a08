// The rows of the main table: Tollgate's decision paths and the reference servers, each a
// closed-loop load (h2load for gRPC, wrk for HTTP) against one server and path.

import { join } from 'node:path';
import { GRPC_CLIENTS, GRPC_STREAMS, HTTP_CONNECTIONS } from './config.js';
import { CHECK_PATH, RLS_PATH } from './grpc-bodies.js';
import { h2loadGrpc, wrkHttp, type LoadResult } from './load.js';
import type { RotatingBody } from './rotating-body.js';

export interface Row {
  id: string;
  label: string;
  kind: 'tollgate' | 'reference';
  transport: 'grpc' | 'http';
  /** The row this one is compared with ("vs ceiling"); undefined for a ceiling itself. */
  ceiling: string | undefined;
  /** The Redis connection that carries this row's decisions (MONITOR); undefined: no Redis. */
  redisConnection: string | undefined;
  run: (seconds: number, logFile: string) => Promise<LoadResult>;
  results: LoadResult[];
  /** INFO commandstats deltas summed over the runs: client-sent commands (script-internal ones left out), and per command. */
  redisCalls: number;
  redisByCommand: Record<string, number>;
  /** INFO stats total_reads_processed deltas summed over the runs (all clients). */
  redisReads: number;
  /** The process serving this row (CPU time is read from /proc). */
  serverPid: number;
  /** That process's heap probe (heap-probe.ts), and the bytes it allocated over the runs. */
  heapPort: number;
  heapBytes: number;
  /** CPU time over the runs, µs: the serving process, and the private Redis. */
  serverCpuUs: number;
  redisCpuUs: number;
  /** CPU steal over the runs, ms, and their wall time, s (steal.ts). */
  stealMs: number;
  seconds: number;
}

/** A number per serving process: Tollgate and each reference server. */
export interface Servers {
  tollgate: number;
  noopGrpc: number;
  noopLean: number;
  /** The lean no-op server that counts each call in Redis first (batched-incr.ts). */
  noopLeanRedis: number;
  noopHttp: number;
  /** The no-op node:http server that counts each call in Redis first. */
  noopHttpRedis: number;
  rlflex: number;
}

export interface RowSetup {
  benchDir: string;
  ports: Omit<Servers, 'tollgate'> & { grpc: number; http: number };
  /** The serving processes: Tollgate and each reference server. */
  pids: Servers;
  /** Their heap probes' ports (heap-probe.ts). */
  heapPorts: Servers;
  bodies: {
    checkAllow: RotatingBody;
    checkDeny: RotatingBody;
    rlsAllow: RotatingBody;
    rlsDeny: RotatingBody;
  };
  keysFiles: { allow: string; deny: string };
}

export function buildRows({ benchDir, ports, pids, heapPorts, bodies, keysFiles }: RowSetup): Row[] {
  const grpc = (port: number, path: string, body: RotatingBody) => (seconds: number, logFile: string) =>
    body.during(() =>
      h2loadGrpc({
        port,
        path,
        bodyFile: body.file,
        seconds,
        clients: GRPC_CLIENTS,
        streams: GRPC_STREAMS,
        logFile,
      }),
    );
  const script = join(benchDir, 'wrk/rotate-keys.lua');
  const http = (port: number, path: string, keysFile: string) => (seconds: number) =>
    wrkHttp({ port, path, script, scriptArgs: [keysFile, path], seconds, connections: HTTP_CONNECTIONS });
  const row = (
    id: string,
    label: string,
    kind: Row['kind'],
    transport: Row['transport'],
    ceiling: string | undefined,
    redisConnection: string | undefined,
    run: Row['run'],
  ): Row => {
    const server: keyof Servers =
      kind === 'tollgate' ? 'tollgate' : id.includes('rlflex') ? 'rlflex' : referenceServer(id, transport);
    return {
      id,
      label,
      kind,
      transport,
      ceiling,
      redisConnection,
      run,
      results: [],
      redisCalls: 0,
      redisByCommand: {},
      redisReads: 0,
      serverPid: pids[server],
      heapPort: heapPorts[server],
      heapBytes: 0,
      serverCpuUs: 0,
      redisCpuUs: 0,
      stealMs: 0,
      seconds: 0,
    };
  };
  const T = 'tollgate-decisions';
  return [
    row(
      'grpc-noop',
      'gRPC · no-op @grpc/grpc-js Check (ceiling)',
      'reference',
      'grpc',
      undefined,
      undefined,
      grpc(ports.noopGrpc, CHECK_PATH, bodies.checkAllow),
    ),
    row(
      'grpc-lean-noop',
      'gRPC · Tollgate lean server, no-op decision, Check (floor)',
      'reference',
      'grpc',
      'grpc-noop',
      undefined,
      grpc(ports.noopLean, CHECK_PATH, bodies.checkAllow),
    ),
    row(
      'grpc-lean-redis',
      'gRPC · lean server + one batched Redis INCR per call, Check (floor with Redis)',
      'reference',
      'grpc',
      'grpc-noop',
      'floor',
      grpc(ports.noopLeanRedis, CHECK_PATH, bodies.checkAllow),
    ),
    row(
      'grpc-allow',
      'gRPC ext_authz Check · allow',
      'tollgate',
      'grpc',
      'grpc-noop',
      T,
      grpc(ports.grpc, CHECK_PATH, bodies.checkAllow),
    ),
    row(
      'grpc-deny',
      'gRPC ext_authz Check · deny (429)',
      'tollgate',
      'grpc',
      'grpc-noop',
      T,
      grpc(ports.grpc, CHECK_PATH, bodies.checkDeny),
    ),
    row(
      'grpc-rls-noop',
      'gRPC · no-op @grpc/grpc-js ShouldRateLimit (ceiling)',
      'reference',
      'grpc',
      undefined,
      undefined,
      grpc(ports.noopGrpc, RLS_PATH, bodies.rlsAllow),
    ),
    row(
      'grpc-rls-lean-noop',
      'gRPC · Tollgate lean server, no-op decision, ShouldRateLimit (floor)',
      'reference',
      'grpc',
      'grpc-rls-noop',
      undefined,
      grpc(ports.noopLean, RLS_PATH, bodies.rlsAllow),
    ),
    row(
      'grpc-rls-lean-redis',
      'gRPC · lean server + one batched Redis INCR per call, ShouldRateLimit (floor with Redis)',
      'reference',
      'grpc',
      'grpc-rls-noop',
      'floor',
      grpc(ports.noopLeanRedis, RLS_PATH, bodies.rlsAllow),
    ),
    row(
      'grpc-rls-allow',
      'gRPC RLS ShouldRateLimit · allow (OK)',
      'tollgate',
      'grpc',
      'grpc-rls-noop',
      T,
      grpc(ports.grpc, RLS_PATH, bodies.rlsAllow),
    ),
    row(
      'grpc-rls-deny',
      'gRPC RLS ShouldRateLimit · deny (OVER_LIMIT)',
      'tollgate',
      'grpc',
      'grpc-rls-noop',
      T,
      grpc(ports.grpc, RLS_PATH, bodies.rlsDeny),
    ),
    row(
      'http-noop',
      'HTTP · no-op node:http (ceiling)',
      'reference',
      'http',
      undefined,
      undefined,
      http(ports.noopHttp, '/check', keysFiles.allow),
    ),
    row(
      'http-noop-redis',
      'HTTP · no-op node:http + one batched Redis INCR per call (floor with Redis)',
      'reference',
      'http',
      'http-noop',
      'floor',
      http(ports.noopHttpRedis, '/check', keysFiles.allow),
    ),
    row(
      'http-rlflex-allow',
      'HTTP · rate-limiter-flexible · allow',
      'reference',
      'http',
      'http-noop',
      'rlflex',
      http(ports.rlflex, '/check', keysFiles.allow),
    ),
    row(
      'http-rlflex-deny',
      'HTTP · rate-limiter-flexible · deny',
      'reference',
      'http',
      'http-noop',
      'rlflex',
      http(ports.rlflex, '/check-deny', keysFiles.deny),
    ),
    row(
      'http-allow',
      'HTTP /check · allow',
      'tollgate',
      'http',
      'http-noop',
      T,
      http(ports.http, '/check', keysFiles.allow),
    ),
    row(
      'http-deny',
      'HTTP /check · deny (403 + X-Tollgate-Status 429)',
      'tollgate',
      'http',
      'http-noop',
      T,
      http(ports.http, '/check', keysFiles.deny),
    ),
  ];
}

/** The reference server of a row that is not Tollgate's nor rate-limiter-flexible's. */
function referenceServer(id: string, transport: Row['transport']): keyof Servers {
  if (id.includes('lean')) return id.includes('redis') ? 'noopLeanRedis' : 'noopLean';
  if (transport === 'grpc') return 'noopGrpc';
  return id.includes('redis') ? 'noopHttpRedis' : 'noopHttp';
}

/** Every row id, in table order (checked against buildRows). */
export const ROW_IDS = [
  'grpc-noop',
  'grpc-lean-noop',
  'grpc-lean-redis',
  'grpc-allow',
  'grpc-deny',
  'grpc-rls-noop',
  'grpc-rls-lean-noop',
  'grpc-rls-lean-redis',
  'grpc-rls-allow',
  'grpc-rls-deny',
  'http-noop',
  'http-noop-redis',
  'http-rlflex-allow',
  'http-rlflex-deny',
  'http-allow',
  'http-deny',
];

/** The burst row (bench/lib/burst.ts): not a closed-loop row; BENCH_ROWS=burst runs it alone. */
export const BURST_ROW = 'burst';

/** BENCH_ROWS names only known rows (checked before anything starts). */
export function checkRowIds(only: ReadonlySet<string> | undefined): void {
  const unknown = [...(only ?? [])].filter((id) => !ROW_IDS.includes(id) && id !== BURST_ROW);
  if (unknown.length > 0)
    throw new Error(
      `BENCH_ROWS: unknown row ${unknown.join(', ')}; rows are ${[...ROW_IDS, BURST_ROW].join(', ')}`,
    );
}

/** BENCH_ROWS: the rows named (in table order), their ceilings kept out unless named too. */
export function selectRows(rows: Row[], only: ReadonlySet<string> | undefined): Row[] {
  if (rows.map((r) => r.id).join() !== ROW_IDS.join())
    throw new Error('bench/lib/rows.ts: ROW_IDS out of date');
  return only ? rows.filter((r) => only.has(r.id)) : rows;
}

export const requestsOf = (r: Row) => r.results.reduce((n, x) => n + x.requests, 0);
