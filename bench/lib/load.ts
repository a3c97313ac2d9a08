// Closed-loop load generators: h2load (gRPC; with --rps, also the fixed-rate gRPC client) and wrk
// (HTTP), and the warm-up pass through /check.

import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { run } from './procs.js';
import { percentile } from './stats.js';

/** The load tools run here; the servers on core 0. */
export const LOAD_CORE = 1;

export interface LoadResult {
  /** Completed requests (h2load: succeeded; wrk: responses read). */
  requests: number;
  seconds: number;
  rps: number;
  /** µs */
  p50: number;
  p90: number;
  p99: number;
  /** Requests the tool saw fail (transport errors, timeouts, unexpected statuses). */
  errors: number;
  statuses: Record<string, number>;
  note?: string;
}

/**
 * h2load against a gRPC server: -c clients × -m streams, one thread, on the load core; percentiles
 * from --log-file (µs from the request's send to the end of its response). With `rps`, each client
 * sends at that rate (open loop while fewer than -m streams are in flight). h2load appends to an
 * existing log file, so it is removed first: the percentiles are this run's alone.
 */
export async function h2loadGrpc(opts: {
  port: number;
  path: string;
  bodyFile: string;
  seconds: number;
  clients: number;
  streams: number;
  logFile: string;
  rps?: number;
}): Promise<LoadResult> {
  const args = [
    '-D',
    String(opts.seconds),
    '-c',
    String(opts.clients),
    '-m',
    String(opts.streams),
    '-t',
    '1',
    '-d',
    opts.bodyFile,
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    `--log-file=${opts.logFile}`,
    ...(opts.rps ? ['--rps', String(opts.rps)] : []),
    `http://127.0.0.1:${opts.port}${opts.path}`,
  ];
  rmSync(opts.logFile, { force: true });
  const out = await run('h2load', args, LOAD_CORE);
  const req = out.match(
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/,
  );
  const codes = out.match(/status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/);
  if (!req || !codes) throw new Error(`unexpected h2load output:\n${out}`);
  const lat = latenciesFromH2loadLog(opts.logFile);
  const succeeded = Number(req[4]);
  return {
    requests: succeeded,
    seconds: opts.seconds,
    rps: succeeded / opts.seconds,
    p50: percentile(lat, 50),
    p90: percentile(lat, 90),
    p99: percentile(lat, 99),
    errors: Number(req[5]) + Number(req[6]) + Number(req[7]),
    statuses: { '2xx': Number(codes[1]), '4xx': Number(codes[3]), '5xx': Number(codes[4]) },
  };
}

function latenciesFromH2loadLog(file: string): Float64Array {
  const lines = readFileSync(file, 'utf8').split('\n');
  const values = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    const tab = line.lastIndexOf('\t');
    if (tab > 0) values[n++] = Number(line.slice(tab + 1));
  }
  return values.subarray(0, n).sort();
}

/** wrk (HTTP/1.1 keep-alive, closed loop) with a Lua script that rotates keys; parses the script's JSON line. */
export async function wrkHttp(opts: {
  port: number;
  path: string;
  script: string;
  scriptArgs: string[];
  seconds: number;
  connections: number;
}): Promise<LoadResult & { raw: Record<string, number> }> {
  const args = [
    '-t',
    '1',
    '-c',
    String(opts.connections),
    '-d',
    `${opts.seconds}s`,
    '--timeout',
    '2s',
    '-s',
    opts.script,
    `http://127.0.0.1:${opts.port}${opts.path}`,
    '--',
    ...opts.scriptArgs,
  ];
  const out = await run('wrk', args, LOAD_CORE);
  const m = out.match(/^JSON:(.*)$/m);
  if (!m) throw new Error(`unexpected wrk output:\n${out}`);
  const r = JSON.parse(m[1]!) as Record<string, number>;
  const seconds = r.duration_us! / 1e6;
  return {
    raw: r,
    requests: r.requests!,
    seconds,
    rps: r.requests! / seconds,
    p50: r.p50!,
    p90: r.p90!,
    p99: r.p99!,
    errors: r.connect_errors! + r.read_errors! + r.write_errors! + r.timeouts!,
    statuses: { non2xx: r.non2xx!, '2xx': r.requests! - r.non2xx! },
  };
}

/** Headers of an nginx auth_request subrequest for `key`. */
export function checkHeaders(key: string): Record<string, string> {
  return {
    'x-api-key': key,
    'x-original-uri': '/v1/things/42?expand=1',
    'x-original-method': 'GET',
    host: 'api.example.com',
  };
}

/** Every key once through /check (so the key cache holds it), `concurrency` in flight; returns status counts. */
export async function warmKeys(
  port: number,
  keys: string[],
  concurrency = 32,
  path = '/check',
): Promise<Record<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: Record<string, number> = {};
  let next = 0;
  const one = (key: string) =>
    new Promise<void>((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, path, agent, headers: checkHeaders(key) },
        (res) => {
          const s = String(res.headers['x-tollgate-status'] ?? res.statusCode);
          statuses[s] = (statuses[s] ?? 0) + 1;
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', () => {
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) await one(keys[next++]!);
    }),
  );
  agent.destroy();
  return statuses;
}
