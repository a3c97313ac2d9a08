// The issue's targets, checked against a report.

import type { Report, Target } from './report.js';
import { int, ms } from './stats.js';

/** Redis read events per decision above this (all clients, so background reads add a little) is more than 1 round trip. */
const READS_SLACK = 1.01;

export function buildTargets(report: Report): Target[] {
  const targets: Target[] = [];
  const row = (id: string) => report.rows.find((r) => r.id === id);
  const show = (v: number, min: number) => (min < 1 ? `${(v * 100).toFixed(0)}%` : `${v.toFixed(2)}×`);
  /** `a`'s decisions/s at least `min` × `b`'s; `floor`: the same ratio of the floor with Redis under `a`. */
  const ratio = (name: string, a: string, b: string, min: number, floor?: string) => {
    const ra = row(a);
    const rb = row(b);
    if (!ra || !rb) return;
    const v = ra.rps / rb.rps;
    const f = floor ? row(floor) : undefined;
    // Rows run round-robin, so run i of each row ran in the same round: each round's ratio shows the spread.
    const rounds = ra.runs.map((x, i) => show(x.rps / (rb.runs[i]?.rps ?? NaN), min)).join(', ');
    targets.push({
      target: `${name} ≥ ${show(min, min)}`,
      value: `${show(v, min)} (rounds: ${rounds})${f ? ` (${floor}, the floor with Redis: ${show(f.rps / rb.rps, min)})` : ''}`,
      met: v >= min,
    });
  };
  ratio(
    'ext_authz Check allow / no-op grpc-js Check server',
    'grpc-allow',
    'grpc-noop',
    1.3,
    'grpc-lean-redis',
  );
  ratio(
    'RLS ShouldRateLimit allow / no-op grpc-js ShouldRateLimit server',
    'grpc-rls-allow',
    'grpc-rls-noop',
    1.3,
    'grpc-rls-lean-redis',
  );
  ratio(
    'HTTP /check allow / rate-limiter-flexible allow',
    'http-allow',
    'http-rlflex-allow',
    1.25,
    'http-noop-redis',
  );
  ratio('HTTP /check allow / no-op node:http', 'http-allow', 'http-noop', 0.55, 'http-noop-redis');

  /** `a`'s figure at most `max` × `b`'s (CPU or Redis CPU per decision). */
  const perDecision =
    (name: string, field: 'serverCpuUsPerDecision' | 'redisCpuUsPerDecision') =>
    (a: string, b: string, max: number, floor?: string) => {
      const ra = row(a);
      const rb = row(b);
      if (!ra || !rb) return;
      const v = ra[field] / rb[field];
      const f = floor ? row(floor) : undefined;
      const beside = f
        ? ` (${floor}, the floor with Redis: ${f[field].toFixed(1)} µs = ${(f[field] / rb[field]).toFixed(2)}×)`
        : '';
      targets.push({
        target: `${name}: ${a} ≤ ${max}× ${b}`,
        value: `${ra[field].toFixed(1)} vs ${rb[field].toFixed(1)} µs = ${v.toFixed(2)}×${beside}`,
        met: v <= max,
      });
    };
  const serverCpu = perDecision('server CPU per decision', 'serverCpuUsPerDecision');
  serverCpu('grpc-allow', 'grpc-noop', 0.75, 'grpc-lean-redis');
  const redisCpu = perDecision('Redis CPU per allowed decision', 'redisCpuUsPerDecision');
  for (const id of ['http-allow', 'grpc-allow', 'grpc-rls-allow']) redisCpu(id, 'http-rlflex-allow', 1.5);
  // The same target with the load held fixed (bench/lib/script-cost.ts), in both forms of the call.
  const cost = report.scriptCost;
  if (cost)
    for (const form of ['batch', 'single'] as const) {
      const check = cost.ratio.check[form];
      const rls = cost.ratio.rls[form];
      const what = form === 'batch' ? `batches of ${cost.batch}` : 'one decision per call';
      targets.push({
        target: `Redis CPU per decision, decide.lua in isolation, ${what}: ≤ 1.5× rate-limiter-flexible's script`,
        value:
          `/check and Check ${cost.check[form].toFixed(2)} µs = ${check.toFixed(2)}×, RLS ${cost.rls[form].toFixed(2)} µs = ${rls.toFixed(2)}× (rate-limiter-flexible ${cost.rlflex.toFixed(2)} µs)` +
          (form === 'single'
            ? ` (the floor, decide.lua's Redis commands alone: ${cost.ratio.check.singleFloor.toFixed(2)}× and ${cost.ratio.rls.singleFloor.toFixed(2)}×)`
            : ''),
        met: check <= 1.5 && rls <= 1.5,
      });
    }

  // Each with the same figure of the server alone, doing no decision: the floor under the target.
  for (const [id, max, floor] of [
    ['http-allow', 2048, 'http-noop'],
    ['grpc-allow', 4096, 'grpc-lean-noop'],
    ['grpc-rls-allow', 4096, 'grpc-rls-lean-noop'],
  ] as const) {
    const r = row(id);
    if (!r) continue;
    const f = row(floor);
    targets.push({
      target: `heap allocated per decision: ${id} ≤ ${max / 1024} kB`,
      value: `${int(r.heapBytesPerDecision)} B${f ? ` (${floor}, the server alone: ${int(f.heapBytesPerDecision)} B)` : ''}`,
      met: r.heapBytesPerDecision <= max,
    });
  }

  for (const shape of report.redisShape.rows) {
    const r = row(shape.row);
    if (r?.kind !== 'tollgate') continue;
    const sent =
      Object.entries(shape.perDecision)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ') || 'nothing';
    targets.push({
      target: `${shape.row}: ≤ 1 Redis command and ≤ 1 round trip per decision, 0 other commands (${shape.decisionConnection})`,
      value: `${shape.commandsPerDecision.toFixed(3)} commands/decision (${sent}; ${int(shape.decisions)} decisions under MONITOR), ${shape.otherCommands} other; ${r.redisReadsPerDecision.toFixed(3)} Redis reads/decision under load (all clients)`,
      met:
        shape.commandsPerDecision <= 1 && shape.otherCommands === 0 && r.redisReadsPerDecision <= READS_SLACK,
    });
  }

  const flush = report.usageFlush?.find((f) => f.accounts === 100_000);
  if (flush)
    targets.push({
      target:
        'usage flusher: ≤ 0.05 background script calls per account per flush interval at 100,000 active accounts',
      value: `${flush.scriptCallsPerAccount.toFixed(3)} (${int(flush.scriptCalls)} calls)`,
      met: flush.scriptCallsPerAccount <= 0.05,
    });

  const pg = report.postgres;
  const beside = pg.idle
    ? `; all Postgres transactions ${pg.busy.perSecond.toFixed(1)}/s during the runs vs ${pg.idle.perSecond.toFixed(1)}/s idle`
    : `; all Postgres transactions ${pg.busy.perSecond.toFixed(1)}/s during the runs`;
  targets.push({
    target: '0 Postgres queries per decision in steady state (decision path: key-cache misses)',
    value: `${pg.keyMisses} misses / ${int(pg.decisions)} decisions; ${int(pg.keyLoads)} key loads in all (refresh-ahead, ${(pg.keyLoads / pg.busy.seconds).toFixed(1)}/s, off the critical path)${beside}`,
    met: pg.keyMisses === 0,
  });

  const fixed = report.fixedRate;
  if (fixed) {
    const find = (id: string, kind: 'tollgate' | 'reference') =>
      fixed.runs.find((x) => x.id === id && x.kind === kind);
    for (const [name, id, ref, floorId] of [
      ['gRPC Check', 'grpc-allow', 'grpc-noop', 'grpc-floor'],
      ['gRPC RLS', 'grpc-rls-allow', 'grpc-rls-noop', 'grpc-rls-floor'],
      ['HTTP /check', 'http-allow', 'http-noop', 'http-floor'],
    ] as const) {
      const tRun = find(id, 'tollgate');
      const nRun = find(ref, 'reference');
      if (!tRun || !nRun) continue;
      const [t, n] = [tRun.result, nRun.result];
      const each = (p99s: number[]) => p99s.map(ms).join(', ');
      const loop = (run: typeof tRun) => run.loopDelays.map((d) => ms(d.p99)).join(', ');
      const cpu = (run: typeof tRun) => (run.postgresCpu ?? []).map((c) => c.toFixed(1)).join(', ');
      const steal = (run: typeof tRun) => (run.steal ?? []).map((c) => c.toFixed(1)).join(', ');
      // The diagnostic replica with no usage flush: what the decision path's tail is without it.
      const quiet = find(`${id}-quiet`, 'tollgate');
      const floor = find(floorId, 'reference');
      const books = find(`${floorId}-books`, 'reference');
      const beside = [
        quiet
          ? `; a replica with no usage flush: ${ms(quiet.result.p99)} ms = ${(quiet.result.p99 / n.p99).toFixed(2)}× (runs: ${each(quiet.p99s)})`
          : '',
        // A no-op server that only counts each call in Redis first: the tail one round trip sets here.
        floor
          ? `; the floor with Redis: ${ms(floor.result.p99)} ms = ${(floor.result.p99 / n.p99).toFixed(2)}× (runs: ${each(floor.p99s)})`
          : '',
        // The same server also keeping usage and flushing it as Tollgate does: the floor with the books.
        books
          ? `; the floor with Redis and the usage flush: ${ms(books.result.p99)} ms = ${(books.result.p99 / n.p99).toFixed(2)}× (runs: ${each(books.p99s)}; Postgres CPU ${cpu(books)} ms/s)`
          : '',
      ].join('');
      targets.push({
        target: `${name} p99 ≤ 1.5× the no-op reference's at ${fixed.offered}/s offered (median of ${tRun.p99s.length} runs)`,
        value: `${ms(t.p99)} ms vs ${ms(n.p99)} ms = ${(t.p99 / n.p99).toFixed(2)}× (runs: ${each(tRun.p99s)} vs ${each(nRun.p99s)}; the servers' own event-loop delay p99: ${loop(tRun)} vs ${loop(nRun)} ms; Tollgate's key-cache misses: ${tRun.keyMisses.join(', ')}; Postgres CPU on these shared cores: ${cpu(tRun)} vs ${cpu(nRun)} ms/s; CPU steal: ${steal(tRun)} vs ${steal(nRun)} ms/s${beside})`,
        met: t.p99 <= 1.5 * n.p99 && t.errors === 0,
      });
    }
  }
  return targets;
}
