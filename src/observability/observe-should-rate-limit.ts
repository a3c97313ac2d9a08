// Around the RLS use case: every ShouldRateLimit decision is counted, timed and logged once here, as
// observe-check-access.ts does for ext_authz and auth_request. Descriptor values are never logged.

import { performance } from 'node:perf_hooks';
import { InputError, StoreUnavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RatelimitDomains } from '../policy/ratelimit-rules.js';
import type { RlsRequest, RlsResult, ShouldRateLimit } from '../rls/should-rate-limit.js';
import type { Metrics } from './metrics.js';
import { nextRequestId } from './request-ids.js';

export interface ObserveShouldRateLimitDeps {
  inner: ShouldRateLimit;
  metrics: Metrics;
  logger: Logger;
  /** To name only configured domains in metrics: a label per client-chosen domain would be unbounded. */
  domains: () => RatelimitDomains;
}

/** The metrics label for domains that are not in the policy. */
export const UNKNOWN_DOMAIN = 'unknown';

export function observeShouldRateLimit({
  inner,
  metrics,
  logger,
  domains,
}: ObserveShouldRateLimitDeps): ShouldRateLimit {
  const domainLabel = (domain: string) => (domains()[domain] ? domain : UNKNOWN_DOMAIN);
  return async function observedShouldRateLimit(request: RlsRequest): Promise<RlsResult> {
    const start = performance.now();
    let result: RlsResult;
    try {
      result = await inner(request);
    } catch (err) {
      const seconds = (performance.now() - start) / 1000;
      if (err instanceof InputError) {
        metrics.recordRlsDecision(domainLabel(request.domain), 'invalid_argument', seconds);
        throw err;
      }
      const reason = err instanceof StoreUnavailable ? 'unavailable' : 'internal';
      metrics.recordError('rls', reason, seconds);
      if (logger.isLevelEnabled('error'))
        logger.error(
          { ...fields(request), outcome: 'error', code: reason, err: errorFields(err) },
          'rls decision failed',
        );
      throw err;
    }
    const seconds = (performance.now() - start) / 1000;
    for (const status of result.statuses) if (status.stats) metrics.rls.recordRule(status.stats);
    if (result.globalShadow) metrics.rls.recordGlobalShadow(domainLabel(request.domain));
    metrics.recordRlsDecision(
      domainLabel(request.domain),
      result.over ? 'rate_limit_exceeded' : 'ok',
      seconds,
    );
    if (result.over) {
      if (logger.isLevelEnabled('info'))
        logger.info({ ...fields(request), outcome: 'denied', violated: result.violated }, 'rls denied');
    } else if (logger.isLevelEnabled('debug'))
      logger.debug({ ...fields(request), outcome: 'allowed' }, 'rls allowed');
    return result;
  };
}

/** Domain and descriptor keys only: descriptor values can carry client addresses or user ids. */
function fields(request: RlsRequest) {
  return {
    requestId: nextRequestId(),
    transport: 'rls',
    domain: request.domain,
    descriptorKeys: request.descriptors.map((d) => d.entries.map((e) => e.key).join('/')),
  };
}

function errorFields(err: unknown) {
  if (!(err instanceof Error)) return { type: typeof err };
  return {
    type: err.name,
    store: err instanceof StoreUnavailable ? err.store : undefined,
    message: err.message,
  };
}
