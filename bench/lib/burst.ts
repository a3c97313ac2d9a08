// The burst row: 1,000 calls all in flight at once on each transport (HTTP /check on 1,000
// connections, ext_authz and RLS as 1,000 streams on one HTTP/2 session, as Envoy multiplexes), on
// default settings: how many were decided, how many 503 / UNAVAILABLE / overloaded, and the p99.

import http from 'node:http';
import http2 from 'node:http2';
import { checkBody, CHECK_PATH, RLS_ALLOW_KEY, RLS_PATH, rlsBody } from './grpc-bodies.js';
import { call, decodeCheck, decodeRls } from './grpc-probe.js';
import { checkHeaders } from './load.js';

export const BURST_IN_FLIGHT = 1000;

export interface BurstRow {
  transport: string;
  inFlight: number;
  decided: number;
  /** HTTP 503 or gRPC UNAVAILABLE (a store failure; never expected on a healthy Redis). */
  unavailable: number;
  /** 503 / RESOURCE_EXHAUSTED `overloaded` (past MAX_INFLIGHT). */
  overloaded: number;
  other: number;
  p99Ms: number;
  maxMs: number;
}

type Outcome = 'decided' | 'unavailable' | 'overloaded' | 'other';

async function timed(n: number, one: (i: number) => Promise<Outcome>): Promise<Omit<BurstRow, 'transport'>> {
  const ms: number[] = [];
  const outcomes = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const start = performance.now();
      const outcome = await one(i);
      ms.push(performance.now() - start);
      return outcome;
    }),
  );
  ms.sort((a, b) => a - b);
  const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
  return {
    inFlight: n,
    decided: count('decided'),
    unavailable: count('unavailable'),
    overloaded: count('overloaded'),
    other: count('other'),
    p99Ms: Math.round(ms[Math.floor(0.99 * (ms.length - 1))]!),
    maxMs: Math.round(ms.at(-1)!),
  };
}

function check(port: number, agent: http.Agent, key: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/check', agent, headers: checkHeaders(key) },
      (res) => {
        res.resume();
        const status = String(res.headers['x-tollgate-status'] ?? res.statusCode);
        const code = res.headers['x-tollgate-code'];
        if (code === 'overloaded') resolve('overloaded');
        else if (status === '503') resolve('unavailable');
        else
          resolve(
            res.statusCode === 204 || res.statusCode === 401 || res.statusCode === 403 ? 'decided' : 'other',
          );
      },
    );
    req.on('error', () => resolve('other'));
    req.end();
  });
}

function grpcOutcome(answer: string): Outcome {
  const status = answer.split('·')[0];
  return status === '0'
    ? 'decided'
    : status === '14'
      ? 'unavailable'
      : status === '8'
        ? 'overloaded'
        : 'other';
}

export async function runBursts(opts: {
  httpPort: number;
  grpcPort: number;
  keys: string[];
  rlsValues: string[];
  inFlight?: number;
}): Promise<BurstRow[]> {
  const n = opts.inFlight ?? BURST_IN_FLIGHT;
  const key = (i: number) => opts.keys[i % opts.keys.length]!;
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const session = http2.connect(`http://127.0.0.1:${opts.grpcPort}`);
  session.on('error', () => {});
  try {
    const checkBodies = Array.from({ length: n }, (_, i) => checkBody(key(i)));
    const rlsBodies = Array.from({ length: n }, (_, i) =>
      rlsBody(RLS_ALLOW_KEY, opts.rlsValues[i % opts.rlsValues.length]!),
    );
    return [
      { transport: 'HTTP /check', ...(await timed(n, (i) => check(opts.httpPort, agent, key(i)))) },
      {
        transport: 'gRPC ext_authz Check',
        ...(await timed(n, async (i) =>
          grpcOutcome(await call(session, CHECK_PATH, checkBodies[i]!, decodeCheck)),
        )),
      },
      {
        transport: 'gRPC RLS ShouldRateLimit',
        ...(await timed(n, async (i) =>
          grpcOutcome(await call(session, RLS_PATH, rlsBodies[i]!, decodeRls)),
        )),
      },
    ];
  } finally {
    session.close();
    agent.destroy();
  }
}

/** The burst table (markdown). */
export function burstMarkdown(rows: BurstRow[]): string[] {
  return [
    `### Burst: ${rows[0]?.inFlight ?? BURST_IN_FLIGHT} calls in flight at once, default settings (REDIS_TIMEOUT_MS 50, MAX_INFLIGHT 10000)`,
    '',
    '| transport | in flight | decided | 503 / UNAVAILABLE | overloaded | other | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.transport} | ${r.inFlight} | ${r.decided} | ${r.unavailable} | ${r.overloaded} | ${r.other} | ${r.p99Ms} | ${r.maxMs} |`,
    ),
    '',
  ];
}
