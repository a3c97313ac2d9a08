// Around the core use case: every decision, from any transport, is counted, timed and logged once here.
// Denials log at info, allows at debug, failures at error; never the key or the authorization header.

import { performance } from 'node:perf_hooks';
import type { AccessRequest } from '../access/access-request.js';
import type { CheckAccess } from '../access/check-access.js';
import type { Decision } from '../access/decision.js';
import { Overloaded, StoreUnavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from './metrics.js';
import { nextRequestId } from './request-ids.js';
import { ThrottledLog } from './throttled-log.js';

export interface ObserveCheckAccessDeps {
  inner: CheckAccess;
  metrics: Metrics;
  logger: Logger;
  /** Denials per account and reason, counted in memory (src/usage/denial-tally.ts). */
  denials?: { record(accountId: string, reason: string): void };
}

export function observeCheckAccess({ inner, metrics, logger, denials }: ObserveCheckAccessDeps): CheckAccess {
  // Decision lines carry ids and codes only (decisionFields), never the key or a header: written
  // without pino's redaction, which re-parses its paths on every line and cost a denial flood at
  // LOG_LEVEL=info 40 % of its throughput. Failure lines keep it (their err may say anything).
  const lines = logger.child({}, { redact: [] });
  const failures = {
    unavailable: new ThrottledLog('decisions failed: store unavailable', 'error'),
    overloaded: new ThrottledLog('decisions shed: MAX_INFLIGHT reached', 'warn'),
  };
  return async function observedCheckAccess(request: AccessRequest): Promise<Decision> {
    const start = performance.now();
    let decision: Decision;
    try {
      decision = await inner(request);
    } catch (err) {
      const reason =
        err instanceof StoreUnavailable
          ? 'unavailable'
          : err instanceof Overloaded
            ? 'overloaded'
            : 'internal';
      metrics.recordError(request.transport, reason, (performance.now() - start) / 1000);
      if (reason !== 'internal') {
        // Per request during an outage or a spike: one line a second with the count, no stack.
        failures[reason].note(logger, { transport: request.transport, code: reason, cause: messageOf(err) });
      } else if (logger.isLevelEnabled('error'))
        logger.error(
          { ...baseFields(request), outcome: 'error', code: reason, err: scrubbed(err, request.apiKey) },
          'decision failed',
        );
      throw err;
    }
    metrics.recordDecision(request.transport, decision, (performance.now() - start) / 1000);
    if (!decision.allowed) {
      if (decision.identity) denials?.record(decision.identity.accountId, decision.code);
      if (lines.isLevelEnabled('info')) lines.info(decisionFields(request, decision), 'denied');
    } else if (lines.isLevelEnabled('debug')) lines.debug(decisionFields(request, decision), 'allowed');
    return decision;
  };
}

/** The request id is made only when a line is written, and kept on the request for the transport's logs. */
function baseFields(request: AccessRequest) {
  request.requestId ??= nextRequestId();
  return { requestId: request.requestId, transport: request.transport };
}

function decisionFields(request: AccessRequest, decision: Decision) {
  return {
    ...baseFields(request),
    outcome: decision.allowed ? 'allowed' : 'denied',
    code: decision.allowed ? 'ok' : decision.code,
    tier: decision.identity?.tier,
    endpoint: decision.endpoint,
    accountId: decision.identity?.accountId,
    keyId: decision.identity?.keyId,
  };
}

/** Whatever threw, the caller's key must not reach the logs through its message or stack. */
function scrubbed(err: unknown, apiKey: string | undefined): unknown {
  if (!(err instanceof Error)) return { type: typeof err };
  const scrub = (text: string | undefined) => (apiKey && text ? text.split(apiKey).join('[redacted]') : text);
  const store = err instanceof StoreUnavailable ? err.store : undefined;
  return { type: err.name, store, message: scrub(err.message), stack: scrub(err.stack) };
}

/** Store and overload messages name the store and the cause, never request data. */
function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
