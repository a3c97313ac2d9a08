// deploy/demo-upstream/app.py (the compose and Kubernetes demo app) as a child process for tests.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { ROOT } from './processes.js';

export interface DemoUpstream {
  port: number;
  stdout(): string;
  stop(): Promise<void>;
}

/** Fails loudly when python3 is missing (.ci/run's machine has it). */
export async function startDemoUpstream(env: Record<string, string> = {}): Promise<DemoUpstream> {
  const port = await freePort();
  const child = spawn('python3', [join(ROOT, 'deploy/demo-upstream/app.py')], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
  };
  const deadline = Date.now() + 10_000;
  while (!out.includes('listening')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`deploy/demo-upstream/app.py did not start (is python3 installed?): ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, stdout: () => out, stop };
}
