// FAILURE_MODE and the over-limit cache as decorators, on a scripted inner store (no Redis).

import { describe, expect, it } from 'vitest';
import type {
  CounterStore,
  DecideInput,
  DecideResult,
  DegradedState,
} from '../../src/counters/counter-store.js';
import { FailSafeCounterStore } from '../../src/counters/fail-safe-counter-store.js';
import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { OverLimitCache } from '../../src/counters/over-limit-cache.js';
import { reconnectDelay } from '../../src/counters/redis-connections.js';
import { StoreUnavailable } from '../../src/errors.js';
import { decisionFromCounters } from '../../src/access/decision-from-counters.js';
import { renderDecision } from '../../src/transports/headers.js';

const input: DecideInput = {
  accountId: 'acct',
  anchorDay: 1,
  units: 1,
  endpoint: 'chat',
  limits: [
    {
      id: 't:ten',
      name: 'ten',
      algorithm: 'fixed_window',
      limit: 2,
      windowMs: 60_000,
      shadow: false,
      hits: 1,
    },
  ],
  quota: { limit: 100, overage: false },
  credits: { cost: 1, seed: 7 },
};

/** An inner store whose behaviour the test switches: answer, hang forever, or fail. */
function scripted() {
  let mode: 'ok' | 'hang' | 'fail' | 'reply-error' = 'ok';
  let calls = 0;
  let pings = 0;
  const memory = new MemoryCounterStore({});
  const store: CounterStore = {
    decide: (i) => {
      calls++;
      if (mode === 'hang') return new Promise<DecideResult>(() => {});
      if (mode === 'fail') return Promise.reject(new StoreUnavailable('redis', 'connection closed'));
      if (mode === 'reply-error') {
        const cause = Object.assign(new Error('WRONGTYPE Operation against a key'), { name: 'ReplyError' });
        return Promise.reject(new StoreUnavailable('redis', 'decide failed', { cause }));
      }
      return memory.decide(i);
    },
    close: async () => {},
  };
  const probe = () => {
    pings++;
    return mode === 'ok' || mode === 'reply-error'
      ? Promise.resolve('PONG')
      : mode === 'hang'
        ? new Promise(() => {})
        : Promise.reject(new Error('down'));
  };
  return { store, probe, set: (m: typeof mode) => void (mode = m), calls: () => calls, pings: () => pings };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FailSafeCounterStore', () => {
  it('a slow inner store is waited for, however long: a busy process is not an outage', async () => {
    const s = scripted();
    const store = new FailSafeCounterStore({ inner: s.store, mode: 'closed', timeoutMs: 10, probe: s.probe });
    s.set('hang');
    const slow = store.decide(input);
    await sleep(60); // six times REDIS_TIMEOUT_MS: liveness is the inner store's watch, not this wait
    expect(store.degraded).toBe(false);
    s.set('ok');
    await store.close();
    void slow;
  });

  it('closed: a failed store answers StoreUnavailable, then fails fast without touching it until the probe succeeds', async () => {
    const s = scripted();
    const store = new FailSafeCounterStore({
      inner: s.store,
      mode: 'closed',
      timeoutMs: 30,
      probe: s.probe,
      probeIntervalMs: 20,
    });
    const changes: Array<[boolean, string | undefined]> = [];
    store.onChange((d, cause) => changes.push([d, cause]));
    expect((await store.decide(input)).allowed).toBe(true);
    s.set('fail');
    await expect(store.decide(input)).rejects.toBeInstanceOf(StoreUnavailable);
    expect(store.degraded).toBe(true);
    const callsWhileDown = s.calls();
    const fast = performance.now();
    for (let i = 0; i < 20; i++) await expect(store.decide(input)).rejects.toBeInstanceOf(StoreUnavailable);
    expect(performance.now() - fast).toBeLessThan(20);
    expect(s.calls()).toBe(callsWhileDown); // no per-request attempts while degraded
    s.set('ok');
    await sleep(120);
    expect(store.degraded).toBe(false);
    expect(changes).toEqual([
      [true, 'redis unavailable: connection closed'],
      [false, undefined],
    ]);
    expect((await store.decide(input)).degraded).toBeUndefined();
    store.markUnavailable('no reply for 50 ms with calls outstanding');
    expect(store.degraded).toBe(true);
    expect(changes[2]).toEqual([true, 'no reply for 50 ms with calls outstanding']);
    await store.close();
  });

  it('open: allowed and flagged degraded, with the policies at full size; the flag reaches the upstream headers', async () => {
    const s = scripted();
    s.set('fail');
    const store = new FailSafeCounterStore({
      inner: s.store,
      mode: 'open',
      timeoutMs: 30,
      probe: s.probe,
      probeIntervalMs: 20,
    });
    const result = await store.decide(input);
    expect(result).toMatchObject({
      allowed: true,
      degraded: true,
      credits: { state: 'ok', balance: 7 },
      quota: { state: 'ok', remaining: 100 },
    });
    expect(result.limits[0]).toMatchObject({ state: 'ok', remaining: 2, retryAfterMs: 0 });
    const call = {
      endpoint: 'chat',
      allowed: true,
      cost: 1,
      limits: input.limits,
      tier: { name: 'basic' },
    } as unknown as Parameters<typeof decisionFromCounters>[1];
    const decision = decisionFromCounters({ accountId: 'acct', keyId: 'k', tier: 'basic' }, call, result);
    expect(decision).toMatchObject({ allowed: true, degraded: true });
    const rendered = renderDecision(decision, {
      keyHeader: 'x-api-key',
      spoofedHeaders: ['x-tollgate-degraded'],
    });
    expect(rendered.upstreamHeaders).toContainEqual(['x-tollgate-degraded', 'true']);
    expect(rendered.removeHeaders).toEqual(['x-api-key', 'authorization']);
    await store.close();
  });

  it('local: per-replica insurance limits while degraded; bad input is still a plain error', async () => {
    const s = scripted();
    s.set('fail');
    const store = new FailSafeCounterStore({
      inner: s.store,
      mode: 'local',
      timeoutMs: 30,
      probe: s.probe,
      probeIntervalMs: 20,
      local: new MemoryCounterStore({}),
    });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await store.decide(input));
    expect(answers.map((a) => [a.allowed, a.degraded])).toEqual([
      [true, true],
      [true, true],
      [false, true],
      [false, true],
    ]);
    await expect(store.decide({ ...input, units: -1 })).rejects.not.toBeInstanceOf(StoreUnavailable);
    await store.close();
  });

  it('a reply error about one account (WRONGTYPE) answers by the mode but does not degrade the replica', async () => {
    const s = scripted();
    s.set('reply-error');
    const store = new FailSafeCounterStore({ inner: s.store, mode: 'closed', timeoutMs: 30, probe: s.probe });
    await expect(store.decide(input)).rejects.toBeInstanceOf(StoreUnavailable);
    expect(store.degraded).toBe(false);
    await store.close();
  });

  it('one background probe at a time while down, stopped by close()', async () => {
    const s = scripted();
    s.set('hang');
    const store = new FailSafeCounterStore({
      inner: s.store,
      mode: 'open',
      timeoutMs: 20,
      probe: s.probe,
      probeIntervalMs: 10,
    });
    store.startDegraded();
    await Promise.all(Array.from({ length: 200 }, () => store.decide(input)));
    await sleep(150);
    // Each probe waits for its timeout (20 ms) before the next is scheduled (5-15 ms later).
    expect(s.pings()).toBeLessThanOrEqual(Math.ceil(150 / 25) + 1);
    expect(s.calls()).toBe(0);
    await store.close();
    const after = s.pings();
    await sleep(60);
    expect(s.pings()).toBe(after);
  });

  it('reconnect delays grow, are capped near 1 s, and are jittered', () => {
    const delays = Array.from({ length: 12 }, (_, i) => reconnectDelay(i + 1));
    expect(delays[0]).toBeLessThan(300);
    expect(Math.max(...delays)).toBeLessThan(1250);
    expect(new Set(Array.from({ length: 20 }, () => reconnectDelay(20))).size).toBeGreaterThan(1);
  });
});

describe('OverLimitCache', () => {
  function counting(inner: CounterStore) {
    let calls = 0;
    const store: CounterStore & DegradedState = {
      decide: (i) => {
        calls++;
        return inner.decide(i);
      },
      close: () => inner.close(),
      degraded: false,
      onChange: () => () => {},
    };
    return { store, calls: () => calls };
  }

  it('answers a denied key from memory until its retry time, with Retry-After counting down exactly', async () => {
    let now = 6_000_000; // aligned to the 60 s window
    const memory = new MemoryCounterStore({ now: () => now });
    const c = counting(memory);
    const cache = new OverLimitCache({ inner: c.store, now: () => now });
    expect((await cache.decide(input)).allowed).toBe(true);
    expect((await cache.decide(input)).allowed).toBe(true);
    now += 10_000;
    const denied = await cache.decide(input);
    expect(denied.limits[0]).toMatchObject({ state: 'denied', retryAfterMs: 50_000 });
    expect(c.calls()).toBe(3);
    now += 20_000;
    const cached = await cache.decide(input);
    expect(cached.limits[0]).toMatchObject({ state: 'denied', retryAfterMs: 30_000, resetMs: 30_000 });
    expect([c.calls(), cache.hits]).toEqual([3, 1]);
    // Other limits (another endpoint) are not answered from this entry.
    await cache.decide({ ...input, limits: [{ ...input.limits[0]!, id: 't:other' }] });
    expect(c.calls()).toBe(4);
    now += 30_000;
    expect((await cache.decide(input)).allowed).toBe(true);
    expect(c.calls()).toBe(5);
  });

  it('does not cache credit or quota denials', async () => {
    const memory = new MemoryCounterStore({});
    const c = counting(memory);
    const cache = new OverLimitCache({ inner: c.store });
    const broke = { ...input, limits: [], credits: { cost: 10, seed: 1 } };
    await cache.decide(broke);
    await cache.decide(broke);
    expect(c.calls()).toBe(2);
  });

  it('stays bounded', async () => {
    const now = 0;
    const denyAll: CounterStore & DegradedState = {
      decide: async (i) => ({
        allowed: false,
        nowMs: now,
        limits: [{ name: 'x', state: 'denied', remaining: 0, resetMs: 1000, retryAfterMs: 1000 }],
        quota: null,
        credits: null,
        ...(i ? {} : {}),
      }),
      close: async () => {},
      degraded: false,
      onChange: () => () => {},
    };
    const cache = new OverLimitCache({ inner: denyAll, now: () => now, maxEntries: 10 });
    for (let i = 0; i < 50; i++) await cache.decide({ ...input, accountId: `a${i}` });
    expect((cache as unknown as { entries: Map<string, unknown> }).entries.size).toBe(10);
  });
});
