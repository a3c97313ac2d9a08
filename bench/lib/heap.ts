// Reads a serving process's heap probe (heap-probe.ts): bytes its V8 heap has allocated so far.

/** The preload that makes a process report its allocations, and the env that turns it on. */
export const HEAP_PROBE = new URL('./heap-probe.js', import.meta.url).pathname;
export const heapProbeArgs = (): string[] => ['--import', HEAP_PROBE];

export async function allocatedBytes(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const bytes = Number(await res.text());
  if (!res.ok || !Number.isFinite(bytes)) throw new Error(`heap probe on :${port} answered ${res.status}`);
  return bytes;
}

/** A serving process's event-loop delay over a window (heap-probe.ts), µs. */
export interface LoopDelay {
  p99: number;
  max: number;
}

/** Runs `fn` with the event-loop delay of the process behind heap probe `port` measured meanwhile. */
export async function withLoopDelay<T>(port: number, fn: () => Promise<T>): Promise<[T, LoopDelay]> {
  const ask = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    if (!res.ok) throw new Error(`heap probe on :${port}${path} answered ${res.status}`);
    return (await res.json()) as LoopDelay;
  };
  await ask('/eld/start');
  const result = await fn();
  return [result, await ask('/eld/stop')];
}
