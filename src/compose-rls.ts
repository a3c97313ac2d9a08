// Composition of Envoy's rate-limit service: rules from the policy and from envoyproxy/ratelimit's
// config directory, both counters, the observed use case and its HTTP routes (/json, /healthcheck).

import type { CheckAccess } from './access/check-access.js';
import type { Config } from './config.js';
import type { CounterStore } from './counters/counter-store.js';
import { openWindowCounter } from './counters/open-window-counter.js';
import type { Logger } from './logger.js';
import type { Metrics } from './observability/metrics.js';
import { observeShouldRateLimit } from './observability/observe-should-rate-limit.js';
import type { PolicyHolder } from './policy/policy-holder.js';
import type { RatelimitDomains } from './policy/ratelimit-rules.js';
import type { ShouldRateLimit } from './rls/rls-result.js';
import { createShouldRateLimit } from './rls/should-rate-limit.js';
import { watchConfigDirectory, type ConfigDirectory } from './rls/watch-config-directory.js';
import type { HttpRoute } from './transports/http/http-server.js';
import { rlsHealthcheckRoute, rlsJsonRoute } from './transports/http/rls-json.js';

export interface Rls {
  shouldRateLimit: ShouldRateLimit;
  routes: Record<string, HttpRoute>;
  /** The config directory has loaded at least one domain (readiness without any tiers). */
  rulesLoaded(): boolean;
  close(): Promise<void>;
}

export async function composeRls(deps: {
  config: Readonly<Config>;
  counters: CounterStore;
  checkAccess: CheckAccess;
  policy: PolicyHolder;
  metrics: Metrics;
  logger: Logger;
  ready: () => boolean;
}): Promise<Rls> {
  const { config, metrics, logger, policy } = deps;
  const { configDir, ignoreDotFiles, mergeDomains, ...settings } = config.rls;
  let directory: ConfigDirectory | undefined;
  if (configDir) {
    directory = await watchConfigDirectory({
      dir: configDir,
      ignoreDotFiles,
      mergeDomains,
      onLoad: (domains, files) => {
        metrics.rls.recordConfigLoad(true);
        logger.info(
          { dir: configDir, files, domains: Object.keys(domains) },
          'rls: loaded the config directory',
        );
      },
      onError: (problems) => {
        metrics.rls.recordConfigLoad(false);
        logger.error(
          { dir: configDir, problems },
          'rls: config directory not loaded, the last good rules stay',
        );
      },
    });
  }
  const domains = mergedDomains(
    () => policy.current.policy.ratelimitDomains,
    () => directory?.domains,
  );
  const windows = openWindowCounter(config);
  const shouldRateLimit = observeShouldRateLimit({
    inner: createShouldRateLimit({
      counters: deps.counters,
      windows,
      domains,
      settings,
      checkAccess: deps.checkAccess,
    }),
    metrics,
    logger,
    domains,
  });
  return {
    shouldRateLimit,
    routes: {
      '/json': rlsJsonRoute(shouldRateLimit, logger),
      '/healthcheck': rlsHealthcheckRoute(deps.ready),
    },
    rulesLoaded: () => Object.keys(directory?.domains ?? {}).length > 0,
    close: async () => {
      directory?.close();
      await windows.close();
    },
  };
}

/** Policy domains plus directory domains (a directory domain wins a name both have); one object per change. */
function mergedDomains(
  fromPolicy: () => RatelimitDomains | undefined,
  fromDirectory: () => RatelimitDomains | undefined,
): () => RatelimitDomains {
  let last: { p: unknown; d: unknown; merged: RatelimitDomains } | undefined;
  return () => {
    const p = fromPolicy();
    const d = fromDirectory();
    if (!last || last.p !== p || last.d !== d) last = { p, d, merged: d ? { ...p, ...d } : (p ?? {}) };
    return last.merged;
  };
}
