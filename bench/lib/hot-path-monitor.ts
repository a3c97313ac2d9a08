// The hot path's Redis shape: MONITOR during a short closed-loop load of each row (and an idle
// window), per connection; plus the commands only ever run inside scripts, which the commandstats
// columns leave out.

import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { log, MONITOR_SECONDS } from './config.js';
import { sleep } from './procs.js';
import { monitorWindow, type MonitorWindow } from './redis-monitor.js';
import { idleTraffic, redisShape, type RedisShape } from './redis-shape.js';
import type { Row } from './rows.js';
import { countersDelta, tollgateCounters } from './tollgate-metrics.js';

export async function sampleHotPath(opts: {
  redis: Redis;
  redisPort: number;
  httpPort: number;
  rows: Row[];
  tmp: string;
}) {
  const { redis, redisPort, httpPort } = opts;
  const shapes: RedisShape[] = [];
  const windows: MonitorWindow[] = [];
  for (const r of opts.rows.filter((x) => x.redisConnection)) {
    const before = await tollgateCounters(httpPort);
    const { window, result } = await monitorWindow(redis, redisPort, () =>
      r.run(MONITOR_SECONDS, join(opts.tmp, `${r.id}-monitor.tsv`)),
    );
    const decides = countersDelta(before, await tollgateCounters(httpPort)).decides;
    windows.push(window);
    const shape =
      r.kind === 'tollgate'
        ? redisShape(r.id, window, r.redisConnection!, decides, 'tollgate /metrics', result.requests)
        : redisShape(r.id, window, r.redisConnection!, result.requests, 'load tool', result.requests);
    shapes.push(shape);
    log(`MONITOR ${r.id}: ${JSON.stringify(shape)}`);
  }
  const idleWindow = (await monitorWindow(redis, redisPort, () => sleep(MONITOR_SECONDS * 1000))).window;
  windows.push(idleWindow);
  const idle = idleTraffic(idleWindow);
  log(`MONITOR idle: ${JSON.stringify(idle)}`);
  const sentAnywhere = new Set(
    windows.flatMap((w) => Object.values(w.byConnection).flatMap((cmds) => Object.keys(cmds))),
  );
  const scriptOnly = new Set(
    windows
      .flatMap((w) => Object.values(w.insideScripts).flatMap((cmds) => Object.keys(cmds)))
      .filter((c) => !sentAnywhere.has(c)),
  );
  return { shapes, idle, scriptOnly };
}
