// Metrics: envoyproxy/ratelimit's own stats under the names its statsd-to-Prometheus mapping gives
// them (its default_mapper.yaml), so dashboards built on that service carry over. Labels come from the
// rules (domain and the rule's `key_value` parts), never from a request's values.

import type { Registry } from 'prom-client';
import type { RuleStats } from '../rls/rls-result.js';
import { counterCells } from './counter-cells.js';

const LABELS = ['domain', 'key1', 'key2'] as const;

export function rlsMetrics(registry: Registry) {
  const rule = (stat: string, help: string) =>
    counterCells(registry, `ratelimit_service_rate_limit_${stat}`, help, LABELS);
  const totalHits = rule('total_hits', 'Hits on an RLS rule (hits_addend summed).');
  const overLimit = rule('over_limit', 'Hits past an RLS rule’s limit.');
  const nearLimit = rule('near_limit', 'Hits past NEAR_LIMIT_RATIO of an RLS rule’s limit, within it.');
  const withinLimit = rule('within_limit', 'Hits within an RLS rule’s limit.');
  const shadowMode = rule('shadow_mode', 'Hits past a shadow-mode RLS rule’s limit, answered OK.');
  const loadSuccess = counterCells(
    registry,
    'ratelimit_service_config_load_success',
    'Loads of the envoyproxy/ratelimit config directory that replaced the rules.',
    ['source'],
  );
  const loadError = counterCells(
    registry,
    'ratelimit_service_config_load_error',
    'Loads of the envoyproxy/ratelimit config directory that failed (the last good rules stay).',
    ['source'],
  );
  const globalShadow = counterCells(
    registry,
    'ratelimit_service_global_shadow_mode',
    'Requests over the limit answered OK because of SHADOW_MODE.',
    ['domain'],
  );
  return {
    recordRule(stats: RuleStats): void {
      const d = stats.domain;
      const k1 = stats.keys[0] ?? '';
      const k2 = stats.keys[1] ?? '';
      totalHits.get(d, k1, k2).value += stats.totalHits;
      if (stats.overLimit) overLimit.get(d, k1, k2).value += stats.overLimit;
      if (stats.nearLimit) nearLimit.get(d, k1, k2).value += stats.nearLimit;
      if (stats.withinLimit) withinLimit.get(d, k1, k2).value += stats.withinLimit;
      if (stats.shadowMode) shadowMode.get(d, k1, k2).value += stats.shadowMode;
    },
    recordGlobalShadow(domain: string): void {
      globalShadow.get(domain).value++;
    },
    recordConfigLoad(ok: boolean): void {
      (ok ? loadSuccess : loadError).get('directory').value++;
    },
  };
}
