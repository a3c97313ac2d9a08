// Metrics of the exporter, on the app's own Registry: lag, failures per sink, deliveries per sink and kind.

import { Gauge, type Registry } from 'prom-client';
import { counterCells } from './counter-cells.js';

export function exportMetrics(registry: Registry) {
  const lag = new Gauge({
    name: 'tollgate_export_lag_seconds',
    help: 'Age of the oldest outbox row not delivered yet, in seconds (0 = none waiting).',
    registers: [registry],
  });
  lag.set(0);
  return {
    failures: counterCells(
      registry,
      'tollgate_export_failures_total',
      'Failed outbox deliveries (each is retried with backoff) by sink.',
      ['sink'],
    ),
    delivered: counterCells(
      registry,
      'tollgate_export_delivered_total',
      'Outbox rows delivered, by sink (stripe|webhook|none = skipped) and kind.',
      ['sink', 'kind'],
    ),
    setLag(seconds: number): void {
      lag.set(seconds);
    },
  };
}

export type ExportMetrics = ReturnType<typeof exportMetrics>;
