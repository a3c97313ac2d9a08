// The UsageSource contract on the in-process counters with the flusher writing to embedded PGlite.

import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { describeUsageSource } from '../contracts/usage-source.contract.js';
import { freshPglite } from '../support/databases.js';

describeUsageSource('memory + pglite', async () => {
  const counters = new MemoryCounterStore();
  const sql = await freshPglite();
  return { counters, source: counters, sql, close: () => sql.close() };
});
