// Counters: MAX_INFLIGHT — the one bound on decisions in flight in this replica, shared by every
// transport (checkAccess and Envoy's RLS both decide through it). Past it a call is shed with
// Overloaded; below it every call is decided, however late.

import { Overloaded } from '../errors.js';
import type { CounterStore, DecideInput, DecideResult } from './counter-store.js';

/** `store` with at most `max` decides outstanding; `onShed` runs for each call refused past it. */
export function boundInflight(store: CounterStore, max: number, onShed: () => void = () => {}): CounterStore {
  let inflight = 0;
  return {
    async decide(input: DecideInput): Promise<DecideResult> {
      if (inflight >= max) {
        onShed();
        throw new Overloaded(max);
      }
      inflight++;
      try {
        return await store.decide(input);
      } finally {
        inflight--;
      }
    },
    close: () => store.close(),
  };
}
