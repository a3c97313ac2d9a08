// Logs: a correlation id for decisions that arrive without Envoy's x-request-id.

import { randomBytes } from 'node:crypto';

/** Unique per process start, so ids of replicas and restarts do not collide. */
const PREFIX = `tg-${randomBytes(4).toString('hex')}-`;
let counter = 0;

/** Cheap: a counter after a per-process prefix (called only when a line is logged). */
export function nextRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return PREFIX + counter.toString(36);
}
