// Metrics: a prom-client Histogram whose buckets live in LabelCells, copied in when /metrics is scraped.

import { Histogram, type Registry } from 'prom-client';
import { LabelCells } from './label-cells.js';

/** One label tuple's histogram: per-bucket (not cumulative) counts, sum and count, in seconds. */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

/** The shape prom-client 15 keeps per label set and renders (`lib/histogram.js` createBaseValues). */
interface PromHistogramEntry {
  labels: Record<string, string>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

export function histogramCells(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  buckets: readonly number[],
): LabelCells<HistogramCell> {
  const cells = new LabelCells<HistogramCell>(labelNames, () => new HistogramCell(buckets));
  new Histogram({
    name,
    help,
    labelNames,
    buckets: [...buckets],
    registers: [registry],
    collect() {
      // prom-client has no bulk setter; its renderer reads `hashMap` (covered by test/integration/metrics.test.ts).
      const hashMap: Record<string, PromHistogramEntry> = {};
      cells.entries.forEach(({ labels, cell }, i) => {
        const bucketValues: Record<number, number> = {};
        buckets.forEach((bound, b) => (bucketValues[bound] = cell.counts[b]!));
        hashMap[String(i)] = { labels, bucketValues, sum: cell.sum, count: cell.count };
      });
      (this as unknown as { hashMap: Record<string, PromHistogramEntry> }).hashMap = hashMap;
    },
  });
  return cells;
}
