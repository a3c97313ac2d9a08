// The external tools the bench drives: fail at once, naming the Debian packages, when one is missing.

import { execFileSync } from 'node:child_process';

const TOOLS: Array<{ cmd: string; pkg: string }> = [
  { cmd: 'h2load', pkg: 'nghttp2-client' },
  { cmd: 'wrk', pkg: 'wrk' },
  { cmd: 'redis-server', pkg: 'redis-server' },
  { cmd: 'taskset', pkg: 'util-linux' },
];

function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function requireTools(): void {
  const missing = TOOLS.filter((t) => !onPath(t.cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))].join(' ');
  process.stderr.write(
    `bench: missing ${missing.map((t) => t.cmd).join(', ')} — install with: apt-get install -y ${pkgs}\n` +
      "(h2load is in Debian's nghttp2-client; the bench needs h2load and wrk on PATH)\n",
  );
  process.exit(2);
}
