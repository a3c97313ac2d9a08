// Metrics: prom-client's default process and Node.js metrics, minus the three that break the
// Prometheus naming rules (`promtool check metrics`, tested in test/integration/metrics-exposition.test.ts).

import { collectDefaultMetrics, type Registry } from 'prom-client';

/** Gauges named like counters ("_total" on a non-counter). Each is the sum over the `type` label of
 * its unsuffixed twin (nodejs_active_handles{type} …), which stays: sum() gives the same number. */
const MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED) registry.removeSingleMetric(name);
}
