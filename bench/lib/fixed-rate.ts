// Open-loop HTTP client at a fixed rate (wrk2-style; wrk2 is not packaged for Debian): request i is
// due at t0 + i / rate and its latency is measured from that due time, so a stall is counted for
// every request it delays (no coordinated omission). Keys rotate per request. gRPC fixed-rate runs
// use h2load --rps instead (lib/load.ts).

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { checkHeaders, type LoadResult } from './load.js';
import { percentile } from './stats.js';

export type FixedRateResult = LoadResult & { achievedRate: number };

export async function fixedRateHttp(opts: {
  port: number;
  keys: string[];
  rate: number;
  seconds: number;
  connections: number;
}): Promise<FixedRateResult> {
  const total = Math.round(opts.rate * opts.seconds);
  const lat = new Float64Array(total);
  const statuses: Record<string, number> = {};
  let done = 0;
  let errors = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const complete = (i: number, due: number, status: string, failed: boolean) => {
    lat[i] = (performance.now() - due) * 1000;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (failed) errors++;
    if (++done === total) finish();
  };
  const fire = (i: number, due: number) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: '/check',
        agent,
        headers: checkHeaders(opts.keys[i % opts.keys.length]!),
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          complete(i, due, String(res.statusCode), res.statusCode !== 204 && res.statusCode !== 403),
        );
      },
    );
    req.on('error', () => complete(i, due, 'error', true));
    req.end();
  };
  // Open the keep-alive connections first (untimed), so the first timed requests do not pay the connects.
  await Promise.all(
    Array.from(
      { length: opts.connections },
      (_, i) =>
        new Promise<void>((resolve) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port: opts.port,
              path: '/check',
              agent,
              headers: checkHeaders(opts.keys[i % opts.keys.length]!),
            },
            (res) => res.resume().on('end', resolve),
          );
          req.on('error', () => resolve());
          req.end();
        }),
    ),
  );
  const t0 = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * opts.rate) / 1000) + 1);
    for (; sent < due; sent++) fire(sent, t0 + (sent * 1000) / opts.rate);
    if (sent >= total) clearInterval(timer);
  }, 1);
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  const sorted = lat.sort();
  return {
    requests: total,
    seconds,
    rps: total / seconds,
    achievedRate: total / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    errors,
    statuses,
  };
}
