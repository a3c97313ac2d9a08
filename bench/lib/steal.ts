// CPU steal: time the hypervisor gave this machine's virtual CPUs to another guest while they had work.
// A stall of every process at once, which no process here can see in its own CPU time; it says how
// far a run's rates and tails are the machine's rather than the code's.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Steal time of all CPUs since boot, ms (`/proc/stat`, the `cpu` line's eighth value). */
export function stealMs(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const ticks = Number(line.trim().split(/\s+/)[8] ?? 0);
  return (ticks * 1000) / ticksPerSecond;
}

/** Runs `fn` and returns its result with the steal over it, ms per second of wall time. */
export async function withSteal<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const [before, started] = [stealMs(), performance.now()];
  const result = await fn();
  const seconds = (performance.now() - started) / 1000;
  return [result, (stealMs() - before) / seconds];
}
