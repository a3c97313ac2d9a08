// Preloaded into every serving process the bench starts (`node --import …/heap-probe.js`): counts the
// bytes V8 allocates in that process, and answers the running total on BENCH_HEAP_PORT (loopback).
//
// Node 20 has no total_allocated_bytes, so the count comes from V8's GC profiler (no --trace-gc, no
// flag): heap used only grows between collections, so the bytes allocated over a window are the
// growth of `used` between each GC's end and the next one's start, plus the growth since the last
// GC. Sampled only when the bench asks (at the start and end of each run), never per request.
//
// It also measures the process's event-loop delay during the fixed-rate runs (GET /eld/start, then
// /eld/stop answers {p99, max} in µs), so a tail the load client saw can be told apart from a stall
// of the server itself. Off outside those runs: its 1 ms timer would cost the closed-loop rows.

import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';

const port = Number(process.env.BENCH_HEAP_PORT);
if (port > 0) {
  let profiler = new GCProfiler();
  let lastUsed = getHeapStatistics().used_heap_size;
  let allocated = 0;
  profiler.start();
  const total = (): number => {
    const { statistics } = profiler.stop();
    for (const gc of statistics) {
      allocated += gc.beforeGC.heapStatistics.usedHeapSize - lastUsed;
      lastUsed = gc.afterGC.heapStatistics.usedHeapSize;
    }
    const used = getHeapStatistics().used_heap_size;
    allocated += used - lastUsed;
    lastUsed = used;
    profiler = new GCProfiler();
    profiler.start();
    return allocated;
  };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const server = createServer((req, res) => {
    if (req.url === '/eld/start') {
      delay.reset();
      delay.enable();
      res.end('{}');
    } else if (req.url === '/eld/stop') {
      delay.disable();
      res.end(JSON.stringify({ p99: delay.percentile(99) / 1000, max: delay.max / 1000 }));
    } else res.end(String(total()));
  });
  server.listen(port, '127.0.0.1');
  server.unref();
}
