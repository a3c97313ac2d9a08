// One in-process Tollgate "replica" for tests: key cache, policy, counters, change listener and usage flusher
// composed the way the composition root wires them, with checkAccess called directly (no transport).

import { createCheckAccess } from '../../src/access/create-check-access.js';
import type { AccessRequest } from '../../src/access/access-request.js';
import type { Decision } from '../../src/access/decision.js';
import { startChangeListener, type ChangeListener } from '../../src/changes/start-change-listener.js';
import type { CounterStore, LiveCredits } from '../../src/counters/counter-store.js';
import type { Sql } from '../../src/db/sql.js';
import { CachedKeyStore } from '../../src/keys/cached-key-store.js';
import { SqlKeyStore } from '../../src/keys/sql-key-store.js';
import { createLogger } from '../../src/logger.js';
import { PolicyHolder } from '../../src/policy/policy-holder.js';
import { startUsageFlusher, type UsageFlusher } from '../../src/usage/start-usage-flusher.js';
import type { UsageSource } from '../../src/usage/usage-source.js';

export interface Replica {
  keys: CachedKeyStore;
  policy: PolicyHolder;
  listener: ChangeListener;
  flusher: UsageFlusher | undefined;
  check(apiKey: string, path?: string, method?: string): Promise<Decision>;
  close(): Promise<void>;
}

export async function startReplica(opts: {
  sql: Sql;
  counters: CounterStore & LiveCredits;
  usage?: UsageSource;
  flushMs?: number;
}): Promise<Replica> {
  const logger = createLogger('silent');
  const policy = await PolicyHolder.load(opts.sql, logger, 3_600_000);
  const keys = new CachedKeyStore({
    inner: new SqlKeyStore(opts.sql),
    ttlMs: 3_600_000,
    negativeTtlMs: 3_600_000,
  });
  const checkAccess = createCheckAccess({ keys, policy: () => policy.current, counters: opts.counters });
  const listener = await startChangeListener({ sql: opts.sql, keys, policy, credits: opts.counters, logger });
  const flusher =
    opts.usage &&
    startUsageFlusher({
      sources: [opts.usage],
      sql: opts.sql,
      logger,
      intervalMs: opts.flushMs ?? 3_600_000,
    });
  return {
    keys,
    policy,
    listener,
    flusher,
    check: (apiKey, path = '/v1/chat/x', method = 'POST') => {
      const request: AccessRequest = {
        transport: 'http',
        apiKey,
        keyHeader: 'x-api-key',
        method,
        path,
        spoofedHeaders: [],
      };
      return checkAccess(request);
    },
    async close() {
      await flusher?.stop();
      await listener.stop();
      policy.close();
    },
  };
}

/** Polls `probe` every 5 ms until it returns true; resolves with the ms it took (throws past `timeoutMs`). */
export async function msUntil(probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<number> {
  const start = performance.now();
  while (!(await probe())) {
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Math.round(performance.now() - start);
}
