// Counters: MAX_INFLIGHT — the one bound on decisions in flight in this replica, shared by every
// transport (checkAccess and Envoy's RLS both decide through it). Past it a call is shed with
// Overloaded; below it every call is decided, however late.

import { Overloaded } from '../errors.js';
import type { CounterStore, DecideInput, DecideResult } from './counter-store.js';

/** `store` with at most `max` decides outstanding; `onShed` runs for each call refused past it. */
export function boundInflight(store: CounterStore, max: number, onShed: () => void = () => {}): CounterStore {
  let inflight = 0;
  // Settled by two handlers made once, not an async frame per call: this runs on every decision.
  const done = (result: DecideResult): DecideResult => {
    inflight--;
    return result;
  };
  const failed = (err: unknown): never => {
    inflight--;
    throw err;
  };
  return {
    decide(input: DecideInput): Promise<DecideResult> {
      if (inflight >= max) {
        onShed();
        return Promise.reject(new Overloaded(max));
      }
      inflight++;
      let pending: Promise<DecideResult>;
      try {
        pending = store.decide(input);
      } catch (err) {
        pending = Promise.reject(err);
      }
      return pending.then(done, failed);
    },
    close: () => store.close(),
  };
}
