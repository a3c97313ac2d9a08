// Small statistics helpers (latencies in µs).

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile of an already sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '–');
export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

/** How far a row's runs spread: (max − min) ÷ median, in %. */
export function spreadPct(values: number[]): string {
  if (values.length < 2) return '–';
  const m = median(values);
  return `${Math.round((100 * (Math.max(...values) - Math.min(...values))) / m)}%`;
}
