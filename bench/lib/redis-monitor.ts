// Redis MONITOR with each command attributed to the connection that sent it. MONITOR lines carry
// the client address ("[0 127.0.0.1:54321]"; commands run by a script show "[0 lua]"), and CLIENT
// LIST maps address → CLIENT SETNAME name: Tollgate names its connections tollgate-decisions,
// tollgate-background, tollgate-health and tollgate-inspector. A raw socket with a minimal line
// parser keeps the monitor's own cost low on the load core.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';

export interface MonitorWindow {
  /** Wall seconds MONITOR was attached. */
  seconds: number;
  /** Connection name (or "? <addr>" when unnamed / gone) → command → calls sent by that client. */
  byConnection: Record<string, Record<string, number>>;
  /** Commands run inside scripts (EVAL/EVALSHA/FCALL bodies), by the connection that called the script. */
  insideScripts: Record<string, Record<string, number>>;
}

const SCRIPT_CALLS = new Set(['evalsha', 'evalsha_ro', 'eval', 'eval_ro', 'fcall', 'fcall_ro']);

/** address → name of every client connected now (unnamed: ""). */
export async function clientNames(redis: Redis): Promise<Map<string, string>> {
  const text = String(await redis.call('CLIENT', 'LIST'));
  const names = new Map<string, string>();
  for (const line of text.split('\n')) {
    const addr = line.match(/\baddr=(\S+)/)?.[1];
    if (addr) names.set(addr, line.match(/\bname=(\S*)/)?.[1] ?? '');
  }
  return names;
}

/**
 * Runs `fn` with MONITOR attached (from `settleMs` before until `tailMs` after it, and until every line
 * up to then is parsed) and attributes every command. A script's own commands are contiguous in the
 * stream (Redis is single-threaded) and follow the EVAL/EVALSHA line that ran them (checked on Redis
 * 7.0), so they are charged to that caller.
 */
export async function monitorWindow<T>(
  redis: Redis,
  port: number,
  fn: () => Promise<T>,
  settleMs = 100,
  tailMs = 300,
): Promise<{ window: MonitorWindow; result: T }> {
  const names = await clientNames(redis);
  const counts = new Map<string, Map<string, number>>();
  const scripts = new Map<string, Map<string, number>>();
  const tally = new Tally(counts, scripts);
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let pending = '';
  let oks = 0;
  // The window ends when an ECHO of this marker, sent after the load, comes out of MONITOR: every
  // command before it has been read, however far the parser lagged behind.
  const marker = `bench-monitor-end-${process.pid}-${Date.now()}`;
  let ended!: () => void;
  const endSeen = new Promise<void>((resolve) => (ended = resolve));
  const attached = new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      const text = pending + chunk.toString('latin1');
      let at = 0;
      let nl: number;
      while ((nl = text.indexOf('\n', at)) >= 0) {
        const line = text.slice(at, nl);
        at = nl + 1;
        if (line.startsWith('+OK')) {
          if (++oks === 2) resolve();
        } else if (line.startsWith('-')) {
          reject(new Error(`MONITOR: ${line}`));
        } else if (line.includes(marker)) {
          ended();
        } else {
          tally.line(line);
        }
      }
      pending = text.slice(at);
    });
  });
  socket.write('CLIENT SETNAME bench-monitor\r\nMONITOR\r\n');
  await attached;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, settleMs));
  const result = await fn();
  await new Promise((r) => setTimeout(r, tailMs));
  const seconds = (performance.now() - t0) / 1000;
  await redis.echo(marker);
  await endSeen;
  socket.destroy();
  for (const [addr, name] of await clientNames(redis)) if (!names.has(addr)) names.set(addr, name);
  const byName = (m: Map<string, Map<string, number>>) => {
    const out: Record<string, Record<string, number>> = {};
    for (const [source, cmds] of m) {
      const into = (out[names.get(source) || `? ${source}`] ??= {});
      for (const [cmd, n] of cmds) into[cmd] = (into[cmd] ?? 0) + n;
    }
    return out;
  };
  return { window: { seconds, byConnection: byName(counts), insideScripts: byName(scripts) }, result };
}

/** Counts MONITOR lines: `+1700000000.123456 [0 127.0.0.1:54321] "evalsha" "…" …` (a script's own: `[0 lua]`). */
class Tally {
  /** The connection of the last script call: the `[0 lua]` lines after it are its script's. */
  private caller = '?';

  constructor(
    private readonly counts: Map<string, Map<string, number>>,
    private readonly scripts: Map<string, Map<string, number>>,
  ) {}

  line(line: string): void {
    const open = line.indexOf('[');
    const close = line.indexOf(']', open);
    if (open < 0 || close < 0) return;
    const source = line.slice(line.indexOf(' ', open) + 1, close);
    const q = line.indexOf('"', close);
    const cmd = line.slice(q + 1, line.indexOf('"', q + 1)).toLowerCase();
    if (cmd === 'monitor') return;
    if (source === 'lua') return add(bucket(this.scripts, this.caller), cmd, 1);
    add(bucket(this.counts, source), cmd, 1);
    if (SCRIPT_CALLS.has(cmd)) this.caller = source;
  }
}

function bucket(m: Map<string, Map<string, number>>, key: string): Map<string, number> {
  let b = m.get(key);
  if (!b) m.set(key, (b = new Map()));
  return b;
}

function add(m: Map<string, number>, key: string, n: number): void {
  m.set(key, (m.get(key) ?? 0) + n);
}
