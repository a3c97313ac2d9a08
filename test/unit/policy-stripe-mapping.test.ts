// The policy's Stripe mapping: `stripe_prices`, `rank`, `downgrade_tier` parsed, checked, serialised, and
// what a set of subscribed prices buys.
import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parsePolicy, serializePolicy } from '../../src/policy/policy-file.js';
import { downgradeTierFor, tierForPrices } from '../../src/policy/tier-for-prices.js';

const POLICY = `
downgrade_tier: basic
tiers:
  free: { quota: { requests: 10, period: month } }
  basic: { quota: { requests: 100, period: month } }
  pro:
    quota: { requests: 1000, period: month }
    stripe_prices: [price_pro_m, price_pro_y]
    rank: 1
    downgrade_tier: free
  team:
    quota: unlimited
    stripe_prices: [price_team]
    rank: 5
  addon: { quota: unlimited, stripe_prices: [price_addon] }
`;

/** The problems parsePolicy reports, as `path: message`; [] when it accepts the file. */
const problems = (yaml: string): string[] => {
  try {
    parsePolicy(yaml);
  } catch (err) {
    if (err instanceof InputError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
};

describe('the Stripe mapping in the policy', () => {
  test('parses onto the tiers and the policy, and round-trips through YAML', () => {
    const policy = parsePolicy(POLICY);
    expect(policy.downgradeTier).toBe('basic');
    expect(policy.tiers.pro).toMatchObject({
      stripePrices: ['price_pro_m', 'price_pro_y'],
      rank: 1,
      downgradeTier: 'free',
    });
    expect(policy.tiers.free!.stripePrices).toBeUndefined();
    expect(parsePolicy(serializePolicy(policy))).toStrictEqual(policy);
  });

  test('several prices: the highest rank wins; no rank counts as 0; an unmapped price buys nothing', () => {
    const policy = parsePolicy(POLICY);
    expect(tierForPrices(policy, ['price_pro_y'])).toBe('pro');
    expect(tierForPrices(policy, ['price_pro_m', 'price_team', 'price_addon'])).toBe('team');
    expect(tierForPrices(policy, ['price_addon', 'price_pro_m'])).toBe('pro');
    expect(tierForPrices(policy, ['price_other'])).toBeNull();
  });

  test("the downgrade tier: the tier's own, else the policy's, else free", () => {
    const policy = parsePolicy(POLICY);
    expect(downgradeTierFor(policy, 'pro')).toBe('free');
    expect(downgradeTierFor(policy, 'team')).toBe('basic');
    expect(downgradeTierFor(parsePolicy(POLICY.replace('downgrade_tier: basic\n', '')), 'team')).toBe('free');
  });

  test('every problem named by its path', () => {
    expect(
      problems(`
downgrade_tier: gold
tiers:
  pro:
    quota: unlimited
    stripe_prices: [price_a, prod_x, 7]
    rank: -1
    downgrade_tier: pro
  team: { quota: unlimited, stripe_prices: [price_a], downgrade_tier: nope }
`),
    ).toEqual([
      'tiers.pro.stripe_prices[1]: expected a Stripe price id like price_1MoBy5LkdIwHu7ix',
      'tiers.pro.stripe_prices[2]: expected a Stripe price id like price_1MoBy5LkdIwHu7ix',
      'tiers.pro.rank: expected an integer >= 0',
      'downgrade_tier: unknown tier "gold"',
      'tiers.pro.downgrade_tier: must name another tier',
      'tiers.team.stripe_prices[0]: price_a already maps to tier pro',
      'tiers.team.downgrade_tier: unknown tier "nope"',
    ]);
    expect(problems('tiers:\n  pro: { quota: unlimited, stripe_prices: [price_a] }\n')).toEqual([
      'tiers.pro.downgrade_tier: required: there is no tier "free" for an ended subscription to fall back to',
    ]);
    expect(problems('tiers:\n  free: { quota: unlimited, stripe_prices: price_a }\n')).toEqual([
      'tiers.free.stripe_prices: expected a list',
    ]);
  });
});
