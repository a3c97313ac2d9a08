// A V8 .cpuprofile (node --cpu-prof) → the functions with the most self time.

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  pct: number;
}

function where(url: string, line: number): string {
  if (!url) return '(native)';
  const short = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/dist\//, 'dist/');
  return `${short}:${line + 1}`;
}

/** Self time per function (µs summed over samples), top `limit`, plus self time per package / area. */
export function summarizeProfile(
  file: string,
  limit = 15,
): { totalMs: number; top: SelfTime[]; byArea: Array<{ area: string; pct: number }> } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    total += dt;
    const k = `${fn}@${url}:${lineNumber}`;
    const e = self.get(k) ?? { fn, where: where(url, lineNumber), us: 0 };
    e.us += dt;
    self.set(k, e);
    const area =
      fn === '(idle)'
        ? 'idle'
        : fn === '(garbage collector)'
          ? 'GC'
          : !url
            ? 'native / V8'
            : url.includes('/node_modules/')
              ? url.replace(/^.*\/node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
              : url.startsWith('node:')
                ? 'node core'
                : url.includes('/dist/')
                  ? 'tollgate (dist/)'
                  : 'other';
    areas.set(area, (areas.get(area) ?? 0) + dt);
  });
  const busy = total - (areas.get('idle') ?? 0);
  const top = [...self.values()]
    .filter((e) => e.fn !== '(idle)' && e.fn !== '(program)')
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({
      fn: e.fn,
      where: e.where,
      ms: Math.round(e.us / 1000),
      pct: Math.round((1000 * e.us) / busy) / 10,
    }));
  const byArea = [...areas.entries()]
    .filter(([a]) => a !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, pct: Math.round((1000 * us) / busy) / 10 }));
  return { totalMs: Math.round(busy / 1000), top, byArea };
}
