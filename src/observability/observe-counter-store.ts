// Around the counter seam: the one decide call per decision is timed, and its failures counted.

import { performance } from 'node:perf_hooks';
import type { CounterStore, DecideInput, DecideResult } from '../counters/counter-store.js';
import type { Metrics, StoreName } from './metrics.js';

export function observeCounterStore(inner: CounterStore, store: StoreName, metrics: Metrics): CounterStore {
  const duration = metrics.storeDuration.get(store, 'decide');
  const errors = metrics.storeErrors.get(store);
  return {
    async decide(input: DecideInput): Promise<DecideResult> {
      const start = performance.now();
      try {
        return await inner.decide(input);
      } catch (err) {
        errors.value++;
        throw err;
      } finally {
        duration.observe((performance.now() - start) / 1000);
      }
    },
    close: () => inner.close(),
  };
}
