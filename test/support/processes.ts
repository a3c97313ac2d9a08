// Runs the built CLI and server as real child processes (the build comes first: `npm test` runs `pretest`).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TEST_ADMIN_TOKEN } from './tollgate.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}bin/tollgate.js`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function assertBuilt(): void {
  if (!existsSync(`${ROOT}dist/cli/main.js`))
    throw new Error('dist/ is missing: run `npm run build` (npm test does it in pretest)');
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      cwd: ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Server {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the output once `pattern` appears in it. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<number | null>;
}

/** `script`: another entry than dist/main.js (e.g. test/support/replica-process.mjs). */
export function startServer(env: Record<string, string>, script = `${ROOT}dist/main.js`): Server {
  assertBuilt();
  const child = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd: ROOT,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (child.exitCode !== null)
          throw new Error(`server exited (${child.exitCode}) before ${pattern}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return output;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface ListeningTollgate {
  server: Server;
  httpPort: number;
  grpcPort: number;
  adminPort: number;
}

/** `node dist/main.js` on port 0 everywhere against `databaseUrl` (and TEST_REDIS_URL when set), once listening. */
export async function startTollgateProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ListeningTollgate> {
  const server = startServer({
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    ADMIN_PORT: '0',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: 'info', // the "listening" line is at info
    REDIS_TIMEOUT_MS: '2000',
    // As generous as REDIS_TIMEOUT_MS: a Postgres starved on 2 shared cores is not what these tests are about.
    PG_TIMEOUT_MS: '2000',
    ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}),
    ...env,
  });
  const out = await server.waitFor(/"msg":"tollgate listening"/, 30_000);
  const line = out.split('\n').find((l) => l.includes('"msg":"tollgate listening"'))!;
  const { httpPort, grpcPort, adminPort } = JSON.parse(line) as Omit<ListeningTollgate, 'server'>;
  return { server, httpPort, grpcPort, adminPort };
}
