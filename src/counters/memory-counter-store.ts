// Counters: the in-process CounterStore (no Redis) with decide.lua's semantics; atomic because decide is synchronous.

import { billingPeriod } from '../billing/billing-period.js';
import { checkDecideInput } from './check-decide-input.js';
import type {
  CounterStore,
  DecideInput,
  DecideResult,
  LimitResult,
  LiveCredits,
  QuotaResult,
} from './counter-store.js';
import { evaluateLimit, type Evaluation, type LimitState } from './limit-algorithms.js';
import { parseReservationId } from '../metering/reservation-id.js';
import type { OpenReservation, ReservationStore, SettleResult } from '../metering/reservation-settler.js';
import { usageRows, type TakeRequest, type UsageBatch, type UsageSource } from '../usage/usage-source.js';

const DAY_MS = 86_400_000;
/** Expired limit and quota state is swept every this many decisions (bounds memory; never changes a result). */
const SWEEP_EVERY = 1024;

export interface Expiring<T> {
  value: T;
  /** ms on the store's clock after which the state can no longer affect a decision. */
  expiresAt: number;
}

/** What the store holds for one account, live entries only, for the admin inspector. */
export interface AccountSnapshot {
  /** ms on the store's clock. */
  now: number;
  /** limit id → its state (what decide.lua keeps in `{a:ID}:quota` as fields `l:<id>:<field>`). */
  limits: Array<[limitId: string, state: Expiring<Record<string, number>>]>;
  quota: Expiring<{ p: number; u: number }> | undefined;
  credits: number | undefined;
  /** Unflushed usage fields, in the per-metric form of the Redis usage hash (usage-source.ts). */
  usage: Record<string, number>;
}

/** Ledger row ids remembered as applied (one process, so only a replayed notification can repeat one). */
const APPLIED_MAX = 10_000;

/** What decide records for a reservation (decide.lua's `{a:ID}:r:<id>` hash). */
interface ReservationRecord {
  accountId: string;
  periodStartMs: number;
  units: number;
  credits: number;
  endpoint: string;
  settled: boolean;
  expiresAt: number;
}

export class MemoryCounterStore implements CounterStore, UsageSource, LiveCredits, ReservationStore {
  private readonly now: () => number;
  private readonly limits = new Map<string, Expiring<LimitState>>();
  private readonly quotas = new Map<string, Expiring<{ p: number; u: number }>>();
  private readonly credits = new Map<string, number>();
  /** accountId → "<periodStartMs>|<endpoint>|calls|units|credits" → count, as in the Redis usage hash. */
  private readonly usage = new Map<string, Map<string, number>>();
  /** accountId → the batch taken by the flusher and not yet acknowledged (as `{a:ID}:usage:flushing`). */
  private readonly pending = new Map<string, UsageBatch>();
  private readonly applied = new Set<string>();
  /** accountId → highest ledger row id held by the seed of its live balance (decide.lua's `cw`). */
  private readonly seededWith = new Map<string, number>();
  private readonly reservationRecords = new Map<string, ReservationRecord>();
  private decisions = 0;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  async decide(input: DecideInput): Promise<DecideResult> {
    checkDecideInput(input);
    const now = Math.floor(this.now());
    if (++this.decisions % SWEEP_EVERY === 0) this.sweep(now);
    const { accountId } = input;
    const evals = input.limits.map((l) =>
      evaluateLimit(l, this.limits.get(`${accountId}\n${l.id}`)?.value ?? {}, now),
    );
    const states = evals.map((e, i) =>
      e.fits ? 'ok' : input.limits[i]!.shadow ? 'shadow_denied' : 'denied',
    );
    let allowed = !states.includes('denied');

    const period = billingPeriod(now, input.anchorDay);
    const q = this.quotas.get(accountId);
    let used = q && q.expiresAt > now && q.value.p === period.startMs ? q.value.u : 0;
    // decide.lua's rule: Postgres' flushed units for this period are a floor (a no-op unless the store lost data).
    if (input.quotaSeed?.periodStartMs === period.startMs) used = Math.max(used, input.quotaSeed.units);
    let quotaState: QuotaResult['state'] = 'ok';
    if (input.quota && used + input.units > input.quota.limit)
      quotaState = input.quota.overage ? 'overage' : 'denied';
    if (quotaState === 'denied') allowed = false;

    let balance = 0;
    let seeding = false;
    let creditState: 'ok' | 'denied' = 'ok';
    if (input.credits) {
      seeding = !this.credits.has(accountId);
      balance = this.credits.get(accountId) ?? input.credits.seed;
      if (input.credits.cost > 0 && input.credits.cost > balance) [creditState, allowed] = ['denied', false];
    }

    if (allowed) {
      used += input.units;
      const records = input.endpoint !== '';
      if (input.quota || records)
        this.quotas.set(accountId, {
          value: { p: period.startMs, u: used },
          expiresAt: period.endMs + 31 * DAY_MS,
        });
      if (input.credits && input.credits.cost > 0) {
        balance -= input.credits.cost;
        this.credits.set(accountId, balance);
        if (seeding && input.credits.seedLedgerId) this.seededWith.set(accountId, input.credits.seedLedgerId);
      }
      const cost = input.credits?.cost ?? 0;
      if (records) this.recordUsage(accountId, `${period.startMs}|${input.endpoint}|`, input.units, cost);
      if (input.reservation)
        this.reservationRecords.set(input.reservation.id, {
          accountId,
          periodStartMs: period.startMs,
          units: input.units,
          credits: cost,
          endpoint: input.endpoint,
          settled: false,
          expiresAt: now + input.reservation.ttlMs,
        });
    }
    const limits = evals.map((e, i) => {
      const check = input.limits[i]!;
      return this.limitResult(e, check.name, states[i]!, allowed, `${accountId}\n${check.id}`, now);
    });
    const result: DecideResult = {
      allowed,
      nowMs: now,
      limits,
      quota: input.quota && {
        state: quotaState,
        limit: input.quota.limit,
        used,
        remaining: Math.max(0, input.quota.limit - used),
        periodStartMs: period.startMs,
        periodEndMs: period.endMs,
      },
      credits: input.credits && { state: creditState, balance },
    };
    if (allowed && input.reservation) result.reservation = input.reservation.id;
    return result;
  }

  /** settle.lua's rules, in process. */
  async settle(reservation: string, units: number | null): Promise<SettleResult> {
    const now = Math.floor(this.now());
    const parts = parseReservationId(reservation);
    if (!parts) return { outcome: 'unknown' };
    const record = this.reservationRecords.get(reservation);
    if (!record || record.expiresAt <= now)
      return { outcome: now >= parts.expiresAtMs ? 'already_settled' : 'unknown' };
    if (record.settled) return { outcome: 'already_settled' };
    record.settled = true;
    const actual = units ?? record.units;
    const delta = actual - record.units;
    if (delta !== 0) {
      const { accountId } = record;
      const quota = this.quotas.get(accountId);
      if (quota?.value.p === record.periodStartMs) quota.value.u += delta;
      const credits = record.credits > 0 ? delta * (record.credits / record.units) : 0;
      const balance = this.credits.get(accountId);
      if (credits !== 0 && balance !== undefined) this.credits.set(accountId, balance - credits);
      this.addUsage(accountId, `${record.periodStartMs}|${record.endpoint}|units`, delta);
      if (credits !== 0)
        this.addUsage(accountId, `${record.periodStartMs}|${record.endpoint}|credits`, credits);
    }
    return { outcome: 'settled', reserved: record.units, units: actual };
  }

  async openReservations(accountId: string): Promise<OpenReservation[]> {
    const now = Math.floor(this.now());
    const open: OpenReservation[] = [];
    for (const [id, r] of this.reservationRecords) {
      if (r.accountId !== accountId || r.settled || r.expiresAt <= now) continue;
      open.push({
        id,
        endpoint: r.endpoint,
        units: r.units,
        expiresAtMs: parseReservationId(id)!.expiresAtMs,
      });
    }
    return open.sort((a, b) => a.expiresAtMs - b.expiresAtMs);
  }

  /** The account's unflushed usage hash (tests and the embedded usage flusher). */
  async readUsage(accountId: string): Promise<Record<string, number>> {
    return Object.fromEntries(this.usage.get(accountId) ?? []);
  }

  async applyLedgerRow(accountId: string, ledgerId: string, delta: number): Promise<boolean> {
    const id = `${accountId}\n${ledgerId}`;
    if (this.applied.has(id)) return false;
    if (this.applied.size >= APPLIED_MAX) this.applied.delete(this.applied.values().next().value as string);
    this.applied.add(id);
    const balance = this.credits.get(accountId);
    if (balance === undefined) return false;
    if (Number(ledgerId) <= (this.seededWith.get(accountId) ?? -1)) return false;
    this.credits.set(accountId, balance + delta);
    return true;
  }

  async accounts(): Promise<string[]> {
    return [...new Set([...this.pending.keys(), ...this.usage.keys()])];
  }

  async take(accountId: string, newBatchId: string): Promise<UsageBatch | null> {
    const pending = this.pending.get(accountId);
    if (pending) return pending;
    const fields = this.usage.get(accountId);
    if (!fields) return null;
    this.usage.delete(accountId);
    const batch = { batchId: newBatchId, accountId, rows: usageRows(Object.fromEntries(fields)) };
    this.pending.set(accountId, batch);
    return batch;
  }

  async ack(accountId: string, batchId: string): Promise<void> {
    if (this.pending.get(accountId)?.batchId === batchId) this.pending.delete(accountId);
  }

  async takeMany(requests: readonly TakeRequest[]): Promise<(UsageBatch | null)[]> {
    return Promise.all(requests.map((r) => this.take(r.accountId, r.newBatchId)));
  }

  async ackMany(batches: readonly UsageBatch[]): Promise<void> {
    for (const batch of batches) await this.ack(batch.accountId, batch.batchId);
  }

  /** Also drops unflushed usage: the embedded app flushes (stop()) before it closes the store. */
  async close(): Promise<void> {
    for (const map of [
      this.limits,
      this.quotas,
      this.credits,
      this.usage,
      this.pending,
      this.applied,
      this.reservationRecords,
    ])
      map.clear();
  }

  /** Consumes the limit when the call is allowed and the limit fits (a shadow_denied limit is not consumed). */
  /** A copy of one account's live state (the admin inspector's view; nothing here changes a decision). */
  snapshot(accountId: string): AccountSnapshot {
    const now = Math.floor(this.now());
    const prefix = `${accountId}\n`;
    const limits: AccountSnapshot['limits'] = [];
    for (const [key, limit] of this.limits) {
      if (key.startsWith(prefix) && limit.expiresAt > now)
        limits.push([
          key.slice(prefix.length),
          { value: definedFields(limit.value), expiresAt: limit.expiresAt },
        ]);
    }
    const quota = this.quotas.get(accountId);
    return {
      now,
      limits,
      quota:
        quota && quota.expiresAt > now
          ? { value: { ...quota.value }, expiresAt: quota.expiresAt }
          : undefined,
      credits: this.credits.get(accountId),
      usage: Object.fromEntries(this.usage.get(accountId) ?? []),
    };
  }

  private limitResult(
    e: Evaluation,
    name: string,
    state: LimitResult['state'],
    allowed: boolean,
    key: string,
    now: number,
  ): LimitResult {
    const consumed = allowed && e.fits;
    if (consumed) this.limits.set(key, { value: e.next, expiresAt: now + e.ttlMs });
    return {
      name,
      state,
      remaining: Math.max(0, consumed ? e.remAfter : e.remNow),
      resetMs: consumed ? e.resetAfter : e.resetNow,
      retryAfterMs: state === 'ok' ? 0 : e.retry,
    };
  }

  private recordUsage(accountId: string, prefix: string, units: number, credits: number): void {
    let fields = this.usage.get(accountId);
    if (!fields) this.usage.set(accountId, (fields = new Map()));
    fields.set(`${prefix}calls`, (fields.get(`${prefix}calls`) ?? 0) + 1);
    fields.set(`${prefix}units`, (fields.get(`${prefix}units`) ?? 0) + units);
    if (credits > 0) fields.set(`${prefix}credits`, (fields.get(`${prefix}credits`) ?? 0) + credits);
  }

  private addUsage(accountId: string, field: string, delta: number): void {
    let fields = this.usage.get(accountId);
    if (!fields) this.usage.set(accountId, (fields = new Map()));
    fields.set(field, (fields.get(field) ?? 0) + delta);
  }

  private sweep(now: number): void {
    for (const [id, r] of this.reservationRecords) if (r.expiresAt <= now) this.reservationRecords.delete(id);
    for (const [key, entry] of this.limits) if (entry.expiresAt <= now) this.limits.delete(key);
    for (const [key, entry] of this.quotas) if (entry.expiresAt <= now) this.quotas.delete(key);
  }
}

/** The numeric fields a limit's state has set (its optional ones left out). */
function definedFields(state: LimitState): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const [name, n] of Object.entries(state)) if (typeof n === 'number') fields[name] = n;
  return fields;
}
