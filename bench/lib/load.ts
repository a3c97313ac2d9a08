// Load generators: h2load (gRPC, closed loop), wrk (HTTP, closed loop), an open-loop fixed-rate
// client (both transports, wrk2-style: latency from the intended send time) and a warm-up pass.

import { readFileSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import http from 'node:http';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { CheckRequest } from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { run } from './procs.js';
import { percentile } from './stats.js';

export const GRPC_PATH = '/envoy.service.auth.v3.Authorization/Check';
/** The load tools run here; the servers on core 0. */
export const LOAD_CORE = 1;

export interface LoadResult {
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

/** gRPC frame: [0 = uncompressed][uint32 BE length] + CheckRequest bytes, as Envoy sends a GET with the key. */
export function grpcBody(key: string): Buffer {
  const message = CheckRequest.encode({
    attributes: {
      contextExtensions: {},
      request: {
        time: undefined,
        http: {
          id: '1234567890', method: 'GET', path: '/v1/things/42?expand=1', host: 'api.example.com', scheme: 'https', query: '', fragment: '', size: 0,
          protocol: 'HTTP/1.1', body: '', rawBody: Buffer.alloc(0), headerMap: undefined,
          headers: { ':authority': 'api.example.com', ':method': 'GET', ':path': '/v1/things/42?expand=1', 'x-api-key': key, 'user-agent': 'bench' },
        },
      },
    },
  } as CheckRequest).finish();
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

/**
 * A body file h2load reads with pread() at every request: a worker thread rewrites the key's bytes in
 * place (same length) every ~0.2 ms, so consecutive requests carry the next key of the list.
 */
const ROTATOR = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { file, offset, keys, control } = workerData;
const fd = fs.openSync(file, 'r+');
const state = new Int32Array(control); // [0] stop flag, [1] rotations
const nap = new Int32Array(new SharedArrayBuffer(4));
const bufs = keys.map((k) => Buffer.from(k));
let i = 0;
while (Atomics.load(state, 0) === 0) {
  i = (i + 1) % bufs.length;
  fs.writeSync(fd, bufs[i], 0, bufs[i].length, offset);
  Atomics.add(state, 1, 1);
  Atomics.wait(nap, 0, 0, 0.2);
}
fs.closeSync(fd);
`;

export class RotatingBody {
  readonly file: string;
  private readonly offset: number;
  private readonly keys: string[];
  private worker: Worker | undefined;
  private control = new SharedArrayBuffer(8);
  rotations = 0;

  constructor(file: string, keys: string[]) {
    const body = grpcBody(keys[0]!);
    this.offset = body.indexOf(Buffer.from(keys[0]!));
    if (this.offset < 0 || keys.some((k) => k.length !== keys[0]!.length)) throw new Error('keys must have one length');
    this.keys = keys;
    this.file = file;
    writeFileSync(file, body);
  }

  start(): void {
    this.control = new SharedArrayBuffer(8);
    this.worker = new Worker(ROTATOR, { eval: true, workerData: { file: this.file, offset: this.offset, keys: this.keys, control: this.control } });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const state = new Int32Array(this.control);
    Atomics.store(state, 0, 1);
    await new Promise((resolve) => worker.once('exit', resolve));
    this.rotations += Atomics.load(state, 1);
  }
}

/** h2load against a gRPC server: -c clients × -m streams, one thread, on the load core; percentiles from --log-file. */
export async function h2loadGrpc(opts: { port: number; bodyFile: string; seconds: number; clients: number; streams: number; logFile: string; rps?: number }): Promise<LoadResult> {
  const args = [
    '-D', String(opts.seconds), '-c', String(opts.clients), '-m', String(opts.streams), '-t', '1',
    '-d', opts.bodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers',
    `--log-file=${opts.logFile}`,
    ...(opts.rps ? ['--rps', String(opts.rps)] : []),
    `http://127.0.0.1:${opts.port}${GRPC_PATH}`,
  ];
  const out = await run('h2load', args, LOAD_CORE);
  const req = out.match(/requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/);
  const codes = out.match(/status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/);
  if (!req || !codes) throw new Error(`unexpected h2load output:\n${out}`);
  const lat = latenciesFromH2loadLog(opts.logFile);
  const succeeded = Number(req[3]);
  return {
    requests: succeeded,
    seconds: opts.seconds,
    rps: succeeded / opts.seconds,
    p50: percentile(lat, 50),
    p90: percentile(lat, 90),
    p99: percentile(lat, 99),
    errors: Number(req[4]) + Number(req[5]) + Number(req[6]),
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
export async function wrkHttp(opts: { port: number; path: string; script: string; scriptArgs: string[]; seconds: number; connections: number }): Promise<LoadResult & { raw: Record<string, number> }> {
  const args = ['-t', '1', '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--timeout', '2s', '-s', opts.script, `http://127.0.0.1:${opts.port}${opts.path}`, '--', ...opts.scriptArgs];
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
  return { 'x-api-key': key, 'x-original-uri': '/v1/things/42?expand=1', 'x-original-method': 'GET', host: 'api.example.com' };
}

/**
 * Open loop at a fixed rate (wrk2-style): request i is due at t0 + i / rate; latency is measured
 * from that due time, so a stall is counted for every request it delays (no coordinated omission).
 * Keys rotate per request. gRPC: raw HTTP/2 with the same framed bodies as h2load.
 */
export async function fixedRate(opts: { transport: 'grpc' | 'http'; port: number; keys: string[]; rate: number; seconds: number; connections: number }): Promise<LoadResult & { achievedRate: number }> {
  const total = Math.round(opts.rate * opts.seconds);
  const lat = new Float64Array(total);
  const statuses: Record<string, number> = {};
  let done = 0;
  let errors = 0;
  const count = (s: string) => (statuses[s] = (statuses[s] ?? 0) + 1);
  const bodies = opts.transport === 'grpc' ? opts.keys.map(grpcBody) : [];
  const sessions = opts.transport === 'grpc' ? Array.from({ length: opts.connections }, () => http2.connect(`http://127.0.0.1:${opts.port}`)) : [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  await new Promise((r) => setTimeout(r, 200)); // connections up
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const complete = (i: number, due: number, status: string, failed: boolean) => {
    lat[i] = (performance.now() - due) * 1000;
    count(status);
    if (failed) errors++;
    if (++done === total) finish();
  };
  const fire = (i: number, due: number) => {
    if (opts.transport === 'grpc') {
      const stream = sessions[i % sessions.length]!.request({ ':method': 'POST', ':path': GRPC_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      let grpcStatus = '?';
      stream.on('trailers', (t) => (grpcStatus = String(t['grpc-status'])));
      stream.on('data', () => {});
      stream.on('error', () => {});
      stream.on('close', () => complete(i, due, `grpc-${grpcStatus}`, grpcStatus !== '0'));
      stream.end(bodies[i % bodies.length]);
    } else {
      const req = http.request({ host: '127.0.0.1', port: opts.port, path: '/check', agent, headers: checkHeaders(opts.keys[i % opts.keys.length]!) }, (res) => {
        res.resume();
        res.on('end', () => complete(i, due, String(res.statusCode), res.statusCode !== 204 && res.statusCode !== 403));
      });
      req.on('error', () => complete(i, due, 'error', true));
      req.end();
    }
  };
  const t0 = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * opts.rate) / 1000) + 1);
    for (; sent < due; sent++) fire(sent, t0 + (sent * 1000) / opts.rate);
    if (sent >= total) clearInterval(timer);
  }, 1);
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  for (const s of sessions) s.close();
  agent.destroy();
  const sorted = lat.sort();
  return { requests: total, seconds, rps: total / seconds, achievedRate: total / seconds, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), errors, statuses };
}

/** Every key once through /check (so the key cache holds it), `concurrency` in flight; returns status counts. */
export async function warmKeys(port: number, keys: string[], concurrency = 32, path = '/check'): Promise<Record<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: Record<string, number> = {};
  let next = 0;
  const one = (key: string) =>
    new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path, agent, headers: checkHeaders(key) }, (res) => {
        const s = String(res.headers['x-tollgate-status'] ?? res.statusCode);
        statuses[s] = (statuses[s] ?? 0) + 1;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => {
        statuses.error = (statuses.error ?? 0) + 1;
        resolve();
      });
      req.end();
    });
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < keys.length) await one(keys[next++]!);
  }));
  agent.destroy();
  return statuses;
}
