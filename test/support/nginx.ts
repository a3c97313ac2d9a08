// Real nginx in front of Tollgate for end-to-end tests: runs the SHIPPED nginx/tollgate.conf with
// only the listen / sidecar / app addresses rewritten, as a foreground child process.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './processes.js';
import { freePort } from './free-port.js';

export const NGINX_DIR = join(ROOT, 'nginx');

/** The nginx binary, or a loud failure: these tests must never silently skip. */
export function nginxBinary(): string {
  const candidates = [process.env.NGINX_BIN, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error(
    'nginx is not installed (looked for NGINX_BIN, /usr/sbin/nginx and PATH): install it, e.g. `apt-get install nginx` (.ci/ does)',
  );
}

export interface TestNginx {
  port: number;
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/** Reads a shipped file and replaces each default address exactly once, failing if one is gone. */
function rewrite(file: string, replacements: Array<[from: string, to: string]>): string {
  let text = readFileSync(join(NGINX_DIR, file), 'utf8');
  for (const [from, to] of replacements) {
    const count = text.split(from).length - 1;
    if (count !== 1) throw new Error(`nginx/${file}: expected "${from}" exactly once, found ${count}`);
    text = text.replace(from, to);
  }
  return text;
}

export async function startNginx(opts: { sidecarPort: number; appPort: number }): Promise<TestNginx> {
  const bin = nginxBinary();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-nginx-'));
  // Run as root, nginx workers drop to an unprivileged user: they must traverse and write these.
  chmodSync(dir, 0o755);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(dir, sub));
    chmodSync(join(dir, sub), 0o777);
  }
  writeFileSync(
    join(dir, 'tollgate.conf'),
    rewrite('tollgate.conf', [
      ['listen 8000;', `listen 127.0.0.1:${port};`],
      ['server 127.0.0.1:8080;', `server 127.0.0.1:${opts.sidecarPort};`],
      ['server 127.0.0.1:3000;', `server 127.0.0.1:${opts.appPort};`],
    ]),
  );
  writeFileSync(
    join(dir, 'tollgate-upstream-headers.conf'),
    readFileSync(join(NGINX_DIR, 'tollgate-upstream-headers.conf')),
  );
  // Test-only top level: foreground, one worker, everything writable under the temp dir.
  writeFileSync(
    join(dir, 'main.conf'),
    `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include tollgate.conf;
}
`,
  );
  const child = spawn(bin, ['-p', dir, '-c', join(dir, 'main.conf'), '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const errorLog = () =>
    existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
  const stop = () => stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await waitForPort(port, child, () => `${output}\n${errorLog()}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dir, errorLog, stop };
}

/** `nginx -t` on a config dir; returns the combined output and exit code. */
export function nginxTest(confPath: string, prefix: string): { code: number | null; output: string } {
  const result = spawnSync(
    nginxBinary(),
    [
      '-t',
      '-p',
      prefix,
      '-c',
      confPath,
      '-e',
      join(prefix, 'error.log'),
      '-g',
      `pid ${join(prefix, 'nginx.pid')};`,
    ],
    { encoding: 'utf8' },
  );
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // SIGTERM = nginx fast shutdown: the master stops its workers, then exits.
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function waitForPort(port: number, child: ChildProcess, diagnostics: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`nginx exited (${child.exitCode}) at start:\n${diagnostics()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`nginx did not listen on ${port} within 10 s:\n${diagnostics()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
