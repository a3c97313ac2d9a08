// Metrics: a prom-client Counter whose values live in LabelCells, copied in when /metrics is scraped.

import { Counter, type Registry } from 'prom-client';
import { LabelCells } from './label-cells.js';

export interface CounterCell {
  value: number;
}

export function counterCells(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
): LabelCells<CounterCell> {
  const cells = new LabelCells<CounterCell>(labelNames, () => ({ value: 0 }));
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, cell } of cells.entries) this.inc(labels, cell.value);
    },
  });
  return cells;
}
