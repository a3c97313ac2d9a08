// Around the Postgres key store (behind the cache): each key load is timed, and its failures counted.

import { performance } from 'node:perf_hooks';
import type { KeyRecord, KeyStore } from '../keys/key-store.js';
import type { Metrics } from './metrics.js';

export function observeKeyStore(inner: KeyStore, metrics: Metrics): KeyStore {
  const duration = metrics.storeDuration.get('postgres', 'find_key');
  const errors = metrics.storeErrors.get('postgres');
  return {
    async findByHash(hash: string): Promise<KeyRecord | null> {
      const start = performance.now();
      try {
        return await inner.findByHash(hash);
      } catch (err) {
        errors.value++;
        throw err;
      } finally {
        duration.observe((performance.now() - start) / 1000);
      }
    },
  };
}
