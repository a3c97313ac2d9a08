// Holds the current policy for the decision path; reloads it from Postgres on a timer (the safety net)
// and on demand (a later LISTEN/NOTIFY listener calls reload()).

import type { Sql } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { Policy } from './policy.js';
import { PolicyResolver } from './policy-resolver.js';
import { loadPolicy } from './policy-repository.js';

export class PolicyHolder {
  private resolver: PolicyResolver;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly sql: Sql,
    private readonly logger: Logger,
    initial: PolicyResolver,
    private readonly onLoad: ((policy: Policy) => void) | undefined,
  ) {
    this.resolver = initial;
    onLoad?.(initial.policy);
  }

  /** `onLoad` runs with the initial policy and after every successful reload (e.g. the limit gauges). */
  static async load(
    sql: Sql,
    logger: Logger,
    refreshMs: number,
    onLoad?: (policy: Policy) => void,
  ): Promise<PolicyHolder> {
    const holder = new PolicyHolder(sql, logger, new PolicyResolver(await loadPolicy(sql)), onLoad);
    holder.timer = setInterval(() => void holder.reload(), refreshMs).unref();
    return holder;
  }

  get current(): PolicyResolver {
    return this.resolver;
  }

  get tierCount(): number {
    return Object.keys(this.resolver.policy.tiers).length;
  }

  /** Swaps in the stored policy; on failure keeps serving the one it has. */
  async reload(): Promise<void> {
    try {
      this.resolver = new PolicyResolver(await loadPolicy(this.sql));
      this.onLoad?.(this.resolver.policy);
    } catch (err) {
      this.logger.warn({ err }, 'policy reload failed; keeping the current policy');
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
