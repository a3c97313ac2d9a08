// A real local Redis Cluster of three masters (no replicas) from redis-server + redis-cli, for one test file.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnRedis, waitForRedis } from './redis-server.js';

const run = promisify(execFile);
/** The cluster bus listens on port + 10000. */
const BUS_OFFSET = 10_000;

export interface RedisCluster {
  nodes: Array<{ host: string; port: number }>;
  /** REDIS_CLUSTER_NODES for Tollgate. */
  env: string;
  stop(): Promise<void>;
}

/**
 * Three masters on consecutive free ports (e.g. 17000-17002), slots assigned, `cluster_state:ok` on
 * every node. `extra`: more redis-server arguments for every node.
 */
export async function startRedisCluster(extra: string[] = []): Promise<RedisCluster> {
  const base = await freePort(17_000, 19_000, [0, 1, 2, BUS_OFFSET, BUS_OFFSET + 1, BUS_OFFSET + 2]);
  const ports = [base, base + 1, base + 2];
  const dir = mkdtempSync(join(tmpdir(), 'tg-redis-cluster-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      children.push(
        spawnRedis(port, nodeDir, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout',
          '2000',
          ...extra,
        ]),
      );
    }
    await Promise.all(ports.map((port) => waitForRedis(port)));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], {
      timeout: 30_000,
    });
    await waitForClusterOk(ports);
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  return { nodes, env: ports.map((p) => `127.0.0.1:${p}`).join(','), stop };
}

async function waitForClusterOk(ports: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(
      ports.map((port) => run('redis-cli', ['-p', String(port), 'cluster', 'info']).then((r) => r.stdout)),
    );
    if (states.every((info) => info.includes('cluster_state:ok'))) return;
    if (Date.now() > deadline)
      throw new Error(`cluster did not reach cluster_state:ok:\n${states.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
