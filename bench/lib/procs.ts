// Child processes of the bench: pinned to a core with taskset, output kept in a log file.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  log: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A port free right now on loopback, drawn below the ephemeral range (see the test helper). */
export { freePort } from '../../test/support/free-port.js';

/** `taskset -c <core> cmd args` (taskset execs, so the pid is the command's); resolves once `ready` matches its output. */
export async function startProc(opts: {
  name: string;
  core: number | null;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  logDir: string;
  /** Output that means ready; undefined: ready once spawned (the caller polls). */
  ready?: RegExp;
  timeoutMs?: number;
}): Promise<Proc & { match: RegExpMatchArray }> {
  const log = join(opts.logDir, `${opts.name}.log`);
  const out = createWriteStream(log);
  const [cmd, args] =
    opts.core === null
      ? [opts.cmd, opts.args]
      : ['taskset', ['-c', String(opts.core), opts.cmd, ...opts.args]];
  const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    if (!opts.ready) {
      child.stdout!.on('data', (chunk: Buffer) => out.write(chunk));
      child.stderr!.on('data', (chunk: Buffer) => out.write(chunk));
      child.once('spawn', () => resolve([] as unknown as RegExpMatchArray));
      child.once('error', reject);
      return;
    }
    const ready = opts.ready;
    const timer = setTimeout(
      () => reject(new Error(`${opts.name} not ready after ${opts.timeoutMs ?? 30_000} ms; log: ${log}`)),
      opts.timeoutMs ?? 30_000,
    );
    const onData = (chunk: Buffer) => {
      out.write(chunk);
      if (text.length < 100_000) text += chunk.toString();
      const m = text.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited with ${code} before it was ready:\n${text.slice(-2000)}`));
    });
  });
  return {
    name: opts.name,
    pid: child.pid!,
    child,
    log,
    match,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      out.end();
    },
  };
}

/** Runs a command to completion (pinned when core is set); resolves with stdout, rejects on a non-zero exit. */
export function run(cmd: string, args: string[], core: number | null = null): Promise<string> {
  const [c, a] = core === null ? [cmd, args] : ['taskset', ['-c', String(core), cmd, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${cmd} exited with ${code}: ${stderr.slice(-2000)}${stdout.slice(-2000)}`)),
    );
  });
}

/** VmRSS of a process in KiB. */
/** CPU time (user + system) the process has used so far, µs (/proc/<pid>/stat; clock ticks of 10 ms). */
export function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

export function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
