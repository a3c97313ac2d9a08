// CPU time of the machine's Postgres, read from /proc: what a flush, or a run, cost Postgres.

import { readdirSync, readFileSync } from 'node:fs';
import { run } from './procs.js';

let ticksPerSecond: number | undefined;

/** utime + stime of every process named `postgres`, ms (backends that exit meanwhile drop out). */
export async function postgresCpuMs(): Promise<number> {
  ticksPerSecond ??= Number(await run('getconf', ['CLK_TCK']));
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (stat.slice(open + 1, close) !== 'postgres') continue;
    const fields = stat.slice(close + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / ticksPerSecond;
}
