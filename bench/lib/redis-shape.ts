// A MONITOR window over one row's closed-loop load → the hot path's Redis shape: what the decision
// connection sent per decision, what scripts ran per decision, and every other connection's traffic
// per second (the usage flusher, health checks: background work, reported per second, not per decision).

import type { MonitorWindow } from './redis-monitor.js';

/** Commands that run a script: one call = one round trip's worth of work on the decision connection. */
const SCRIPT_CALLS = new Set(['evalsha', 'evalsha_ro', 'eval', 'eval_ro', 'fcall', 'fcall_ro']);
const BACKGROUND = 'tollgate-background';
/** The bench's own connections (INFO, CLIENT LIST, MONITOR). */
const BENCH_CONNECTIONS = new Set(['bench', 'bench-monitor']);

export interface RedisShape {
  row: string;
  seconds: number;
  /** The denominator: Tollgate's decide count from /metrics (exact), else the load tool's completed requests. */
  decisions: number;
  decisionsFrom: 'tollgate /metrics' | 'load tool';
  /** Completed requests the load tool counted (requests in flight when it stopped are missing). */
  loadRequests: number;
  decisionConnection: string;
  /** Commands the decision connection sent, per decision, by command. */
  perDecision: Record<string, number>;
  commandsPerDecision: number;
  /** Commands on the decision connection that are no script call (count, not per decision). */
  otherCommands: number;
  insideScriptsPerDecision: Record<string, number>;
  /** Every other connection (tollgate-background, tollgate-health, …): commands per second, by connection. */
  otherConnectionsPerSecond: Record<string, number>;
  /** tollgate-background by command, per second. */
  backgroundPerSecond: Record<string, number>;
  /** Commands run inside the scripts tollgate-background called, per second. */
  backgroundScriptsPerSecond: Record<string, number>;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const per = (o: Record<string, number>, d: number) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v / d)]));
const perSecond = (o: Record<string, number> | undefined, seconds: number) =>
  Object.fromEntries(Object.entries(o ?? {}).map(([c, n]) => [c, round(n / seconds, 2)]));
const total = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((n, x) => n + x, 0);

export function redisShape(
  row: string,
  w: MonitorWindow,
  decisionConnection: string,
  decisions: number,
  decisionsFrom: RedisShape['decisionsFrom'],
  loadRequests: number,
): RedisShape {
  const sent = w.byConnection[decisionConnection] ?? {};
  const others: Record<string, number> = {};
  for (const [conn, cmds] of Object.entries(w.byConnection)) {
    if (conn === decisionConnection || BENCH_CONNECTIONS.has(conn)) continue;
    others[conn] = round(total(cmds) / w.seconds, 2);
  }
  return {
    row,
    seconds: round(w.seconds, 2),
    decisions,
    decisionsFrom,
    loadRequests,
    decisionConnection,
    perDecision: per(sent, decisions),
    commandsPerDecision: total(sent) / decisions,
    otherCommands: Object.entries(sent)
      .filter(([c]) => !SCRIPT_CALLS.has(c))
      .reduce((n, [, v]) => n + v, 0),
    insideScriptsPerDecision: per(w.insideScripts[decisionConnection] ?? {}, decisions),
    otherConnectionsPerSecond: others,
    backgroundPerSecond: perSecond(w.byConnection[BACKGROUND], w.seconds),
    backgroundScriptsPerSecond: perSecond(w.insideScripts[BACKGROUND], w.seconds),
  };
}

/** An idle window: every connection's commands per second (no decisions). */
export function idleTraffic(w: MonitorWindow): {
  seconds: number;
  perSecond: Record<string, number>;
  backgroundPerSecond: Record<string, number>;
  backgroundScriptsPerSecond: Record<string, number>;
} {
  const byConn: Record<string, number> = {};
  for (const [conn, cmds] of Object.entries(w.byConnection))
    if (!BENCH_CONNECTIONS.has(conn)) byConn[conn] = round(total(cmds) / w.seconds, 2);
  return {
    seconds: round(w.seconds, 2),
    perSecond: byConn,
    backgroundPerSecond: perSecond(w.byConnection[BACKGROUND], w.seconds),
    backgroundScriptsPerSecond: perSecond(w.insideScripts[BACKGROUND], w.seconds),
  };
}
