// Reconnecting to Postgres after an outage: the delay postgres.js waits is capped at 1 s (its default
// grows to 20 s, which kept revocations and cold-key lookups away for seconds after Postgres was back).
import { describe, expect, it } from 'vitest';
import { reconnectBackoffSec } from '../../src/db/postgres-sql.js';

describe('reconnectBackoffSec', () => {
  it('starts small, doubles, and never exceeds 1 s however many attempts failed', () => {
    for (let retries = 0; retries <= 100; retries++) {
      const delay = reconnectBackoffSec(retries);
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThanOrEqual(1);
    }
    expect(reconnectBackoffSec(1)).toBeLessThanOrEqual(0.1);
    expect(Math.max(...Array.from({ length: 50 }, () => reconnectBackoffSec(40)))).toBeGreaterThan(0.5);
  });

  it('is jittered, so replicas losing the same Postgres do not reconnect in step', () => {
    expect(new Set(Array.from({ length: 20 }, () => reconnectBackoffSec(6))).size).toBeGreaterThan(1);
  });
});
