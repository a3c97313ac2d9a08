// Counters: this process's view of Redis TIME, learnt from the `now` each decide.lua reply carries, so a
// decide can carry a deadline in Redis time.
//
// A sample is (Redis time at execution) − (Date.now() when the reply was read). The reply is read
// after it was sent, so every sample is at most the true offset (+1 ms of rounding): the largest one
// seen is the best estimate, and an estimate that is too small only makes deadlines earlier (safe:
// decide.lua then refuses and the call is sent again). Reset on reconnect (maybe another server).

/** Rounding of two millisecond clocks; the estimate may exceed the offset by this much. */
export const CLOCK_ROUNDING_MS = 2;

export class RedisClock {
  private offset: number | undefined;

  /** A reply's Redis time, read now. */
  sample(redisNowMs: number): void {
    const sample = redisNowMs - Date.now();
    if (this.offset === undefined || sample > this.offset) this.offset = sample;
  }

  reset(): void {
    this.offset = undefined;
  }

  /** Redis time `afterMs` from now as a deadline; undefined until a first reply was seen. */
  deadline(afterMs: number): number | undefined {
    return this.offset === undefined ? undefined : Date.now() + this.offset + afterMs - CLOCK_ROUNDING_MS;
  }
}
