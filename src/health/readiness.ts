// Probes (HTTP /readyz, gRPC health): is this replica ready for traffic? Dependencies are checked on
// a timer, never per probe, so a probe storm cannot load Postgres or Redis; draining is final.

import type { Logger } from '../logger.js';

export interface DependencyCheck {
  name: string;
  /** Resolves when the dependency answered; rejects (or outlasts the timeout) when it did not. */
  run: () => Promise<unknown>;
}

/** What the probe endpoints read; `subscribe` is told whenever `ready` or `draining` changes. */
export interface HealthState {
  readonly ready: boolean;
  readonly draining: boolean;
  subscribe(listener: () => void): () => void;
}

export interface ReadinessOptions {
  checks: DependencyCheck[];
  /** False while no policy is stored (every call would be refused). */
  policyLoaded: () => boolean;
  intervalMs?: number;
  timeoutMs?: number;
  logger?: Logger;
}

/** Why a replica is not ready, for /readyz: what an operator reads first after a failed probe. */
const REASONS: Record<string, string> = {
  policy: 'no policy stored: apply one with `tollgate apply <policy.yaml>`, PUT /admin/policy or POLICY_FILE',
  draining: 'shutting down (SIGTERM received): draining before the listeners close',
  starting: 'starting: the first readiness check has not finished',
  redis:
    'redis: no answer to PING (FAILURE_MODE=closed refuses every call while Redis is down; check REDIS_URL)',
};

export class Readiness implements HealthState {
  private checked = false;
  private failed: string[] = ['starting'];
  private isDraining = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: ReadinessOptions) {
    this.intervalMs = options.intervalMs ?? 2_000;
    this.timeoutMs = options.timeoutMs ?? 1_000;
  }

  get ready(): boolean {
    return this.checked && !this.isDraining;
  }

  /** Empty when ready; else one sentence per cause (`redis`: the PING failed, with FAILURE_MODE=closed). */
  get reasons(): string[] {
    const causes = this.isDraining ? ['draining'] : this.failed;
    return causes.map(
      (name) => REASONS[name] ?? `${name}: did not answer its readiness check in time or failed`,
    );
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /** Checks once now (so a started replica is ready at once), then every intervalMs. */
  async start(): Promise<void> {
    await this.check();
    this.timer ??= setInterval(() => void this.check(), this.intervalMs).unref();
  }

  /** Shutdown: not ready from now on, whatever the dependencies say. */
  drain(): void {
    if (this.isDraining) return;
    this.isDraining = true;
    this.emit();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One round of checks; a round still running when the timer fires is not overlapped. */
  check(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const results = await Promise.all(
      this.options.checks.map((c) =>
        this.within(c.run).then(
          () => undefined,
          () => c.name,
        ),
      ),
    );
    const failed = results.filter((name): name is string => name !== undefined);
    if (!this.options.policyLoaded()) failed.push('policy');
    const ok = failed.length === 0;
    this.failed = failed;
    if (ok === this.checked) return;
    this.checked = ok;
    if (ok) this.options.logger?.info('ready');
    else this.options.logger?.warn({ failed }, 'not ready');
    this.emit();
  }

  private within(run: () => Promise<unknown>): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise(
      (_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), this.timeoutMs)),
    );
    return Promise.race([Promise.resolve().then(run), timeout]).finally(() => clearTimeout(timer));
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}
