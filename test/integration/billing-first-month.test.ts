// Billing starts with the account: a period that ended before it existed bills nothing, the period it
// was created in is billed in full or prorated by days (price.first_month), and the summary says which.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingSummary } from '../../src/billing/billing-summary.js';
import { migrate } from '../../src/db/migrate.js';
import { parsePolicy } from '../../src/policy/policy-file.js';
import { loadPolicy, savePolicy } from '../../src/policy/policy-repository.js';
import { freshPostgres } from '../support/databases.js';
import { DEMO_POLICY_YAML } from '../support/tollgate.js';

/** The demo policy plus a tier whose first month is prorated, stored and read back as the CLI would. */
const POLICY = DEMO_POLICY_YAML.replace(
  '  enterprise:',
  `  starter:
    quota: { requests: 1000, period: month }
    price: { monthly: 31.00, currency: usd, first_month: prorated }
  enterprise:`,
);
/** Created 2026-12-03 at noon, as in the issue; periods start on the 1st (anchor day 1). */
const CREATED = new Date('2026-12-03T12:00:00Z');
const NOW = Date.parse('2027-02-10T00:00:00Z');

describe('billing from the account start', () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let policy: Awaited<ReturnType<typeof loadPolicy>>;
  const account = (tier: string) => ({ id: `acc_${tier}`, tier, billingAnchorDay: 1, createdAt: CREATED });
  const bill = (tier: string, month: string) =>
    billingSummary(db.sql, account(tier), policy.tiers[tier], month, NOW);

  beforeAll(async () => {
    db = await freshPostgres();
    await migrate(db.sql);
    await savePolicy(db.sql, parsePolicy(POLICY));
    policy = await loadPolicy(db.sql);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('stores price.first_month and reads it back', () => {
    expect(policy.tiers.starter!.price!.firstMonth).toBe('prorated');
    expect(policy.tiers.pro!.price!.firstMonth).toBe('full');
  });

  it('a month before the account existed bills 0', async () => {
    const november = await bill('pro', '2026-11');
    expect(november).toMatchObject({
      planPrice: 0,
      total: 0,
      planPriceBasis: 'before_account',
      billedDays: 0,
      periodDays: 30,
    });
  });

  it('first month in full (the default)', async () => {
    const december = await bill('pro', '2026-12');
    expect(december).toMatchObject({
      planPrice: 49,
      total: 49,
      planPriceBasis: 'first_month_full',
      billedDays: 31,
      periodDays: 31,
    });
  });

  it('first month prorated by the days the account existed (the creation day counts)', async () => {
    // 3 to 31 December: 29 of 31 days of 31.00 = 29.00.
    const december = await bill('starter', '2026-12');
    expect(december).toMatchObject({
      planPrice: 29,
      total: 29,
      planPriceBasis: 'first_month_prorated',
      billedDays: 29,
      periodDays: 31,
    });
    const january = await bill('starter', '2027-01');
    expect(january).toMatchObject({ planPrice: 31, planPriceBasis: 'period', billedDays: 31 });
    expect((await bill('starter', '2026-11')).planPrice).toBe(0);
  });
});
