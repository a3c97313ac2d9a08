// Policy storage: `tollgate apply` / admin API write the whole policy; the decision path loads it at start and on reload.

import { notifyChange } from '../db/notify-change.js';
import type { Row, Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import type { RatelimitDomain } from './ratelimit-rules.js';
import type { Endpoint, LimitRule, Metering, Policy, Tier } from './policy.js';

/** pg_advisory_xact_lock key: two applies at once run one after the other. */
const POLICY_LOCK = 7_326_104_552;

/** Replaces the stored policy in one transaction; InputError (path `tiers.X`) if a removed tier still has accounts. */
export async function savePolicy(sql: Sql, policy: Policy): Promise<void> {
  const tierNames = Object.keys(policy.tiers);
  await sql.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1::bigint)', [POLICY_LOCK]);
    const orphans = await tx.query<{ tier: string; accounts: number }>(
      'select tier, count(*)::int as accounts from accounts where not (tier = any($1::text[])) group by tier order by tier',
      [tierNames],
    );
    if (orphans.length > 0) {
      throw new InputError(
        orphans.map(({ tier, accounts }) => ({
          path: `tiers.${tier}`,
          message: `cannot remove tier ${tier}: ${accounts} account(s) are still on it; move them to another tier first`,
        })),
      );
    }
    await tx.query('delete from endpoints');
    await tx.query('delete from tier_limits');
    await tx.query('delete from tiers where not (name = any($1::text[]))', [tierNames]);
    for (const [position, tier] of Object.values(policy.tiers).entries()) await saveTier(tx, tier, position);
    for (const [position, endpoint] of policy.endpoints.entries()) await saveEndpoint(tx, endpoint, position);
    await tx.query('delete from ratelimit_domains');
    for (const [position, [name, domain]] of Object.entries(policy.ratelimitDomains ?? {}).entries()) {
      await tx.query(
        'insert into ratelimit_domains (name, descriptors, position, counting, response_headers) values ($1, $2::text::jsonb, $3::int, $4, $5)',
        [
          name,
          JSON.stringify(domain.descriptors),
          position,
          domain.counting ?? null,
          domain.responseHeaders ?? null,
        ],
      );
    }
    await tx.query("delete from policy_settings where name = 'downgrade_tier'");
    if (policy.downgradeTier !== undefined)
      await tx.query("insert into policy_settings (name, value) values ('downgrade_tier', $1)", [
        policy.downgradeTier,
      ]);
    await notifyChange(tx, { kind: 'policy' });
  });
}

async function saveTier(tx: Sql, tier: Tier, position: number): Promise<void> {
  await tx.query(
    `insert into tiers (name, quota_units, quota_overage, credits_per_request, upgrade_url, price_monthly, price_overage_per_1000, price_currency, position,
                        price_first_month, stripe_prices, rank, downgrade_tier)
     values ($1, $2::bigint, $3, $4::int, $5, $6::numeric, $7::numeric, $8, $9::int, $10, $11::text[], $12::int, $13)
     on conflict (name) do update set quota_units = excluded.quota_units, quota_overage = excluded.quota_overage,
       credits_per_request = excluded.credits_per_request, upgrade_url = excluded.upgrade_url, price_monthly = excluded.price_monthly,
       price_overage_per_1000 = excluded.price_overage_per_1000, price_currency = excluded.price_currency, position = excluded.position,
       price_first_month = excluded.price_first_month, stripe_prices = excluded.stripe_prices, rank = excluded.rank,
       downgrade_tier = excluded.downgrade_tier`,
    [
      tier.name,
      tier.quota?.units ?? null,
      tier.quota?.overage ?? false,
      tier.creditsPerRequest,
      tier.upgradeUrl ?? null,
      tier.price?.monthly ?? null,
      tier.price?.overagePer1000 ?? null,
      tier.price?.currency ?? null,
      position,
      tier.price?.firstMonth ?? 'full',
      tier.stripePrices ?? null,
      tier.rank ?? null,
      tier.downgradeTier ?? null,
    ],
  );
  for (const [i, rule] of tier.limits.entries()) {
    await tx.query(
      `insert into tier_limits (tier, name, algorithm, limit_value, window_ms, burst, shadow, unit, position)
       values ($1, $2, $3, $4::int, $5::bigint, $6::int, $7, $8, $9::int)`,
      [tier.name, ...limitValues(rule), i],
    );
  }
}

async function saveEndpoint(tx: Sql, endpoint: Endpoint, position: number): Promise<void> {
  await tx.query(
    `insert into endpoints (name, methods, path, cost, position, metering)
     values ($1, $2::text[], $3, $4::int, $5::int, $6::jsonb)`,
    [
      endpoint.name,
      endpoint.methods,
      endpoint.path,
      endpoint.cost,
      position,
      endpoint.metering ? JSON.stringify(endpoint.metering) : null,
    ],
  );
  for (const [tier, override] of Object.entries(endpoint.overrides)) {
    await tx.query('insert into endpoint_overrides (endpoint, tier, allowed) values ($1, $2, $3)', [
      endpoint.name,
      tier,
      override.allowed,
    ]);
    for (const [i, rule] of override.limits.entries()) {
      await tx.query(
        `insert into override_limits
           (endpoint, tier, name, algorithm, limit_value, window_ms, burst, shadow, unit, position)
         values ($1, $2, $3, $4, $5::int, $6::bigint, $7::int, $8, $9, $10::int)`,
        [endpoint.name, tier, ...limitValues(rule), i],
      );
    }
  }
}

function limitValues(rule: LimitRule): unknown[] {
  return [
    rule.name,
    rule.algorithm,
    rule.limit,
    rule.windowMs,
    rule.burst ?? null,
    rule.shadow,
    rule.unit ?? null,
  ];
}

interface LimitRow extends Row {
  name: string;
  algorithm: LimitRule['algorithm'];
  limit_value: number;
  window_ms: number;
  burst: number | null;
  shadow: boolean;
  unit: string | null;
}

/** The stored policy, equal to what parsePolicy produced for it; endpoints in match order. */
export async function loadPolicy(sql: Sql): Promise<Policy> {
  return sql.transaction(async (tx) => {
    const tiers = await tx.query('select * from tiers order by position, name');
    const tierLimits = await tx.query<LimitRow & { tier: string }>(
      'select * from tier_limits order by tier, position',
    );
    const endpoints = await tx.query('select * from endpoints order by position, name');
    const overrides = await tx.query(
      'select o.* from endpoint_overrides o join tiers t on t.name = o.tier order by o.endpoint, t.position',
    );
    const overrideLimits = await tx.query<LimitRow & { endpoint: string; tier: string }>(
      'select * from override_limits order by position',
    );
    const domains = await tx.query<{
      name: string;
      descriptors: unknown;
      counting: RatelimitDomain['counting'] | null;
      response_headers: RatelimitDomain['responseHeaders'] | null;
    }>('select name, descriptors, counting, response_headers from ratelimit_domains order by position, name');
    const settings = await tx.query<{ value: string }>(
      "select value from policy_settings where name = 'downgrade_tier'",
    );
    const policy: Policy = { tiers: {}, endpoints: [] };
    if (settings[0]) policy.downgradeTier = settings[0].value;
    for (const row of tiers) {
      const name = row.name as string;
      const tier: Tier = {
        name,
        limits: tierLimits.filter((l) => l.tier === name).map(toRule),
        quota:
          row.quota_units === null
            ? null
            : { units: row.quota_units as number, overage: row.quota_overage as boolean },
        creditsPerRequest: row.credits_per_request as number,
      };
      if (row.upgrade_url !== null) tier.upgradeUrl = row.upgrade_url as string;
      if (row.price_monthly !== null) {
        tier.price = {
          monthly: row.price_monthly as number,
          overagePer1000: (row.price_overage_per_1000 as number | null) ?? 0,
          currency: (row.price_currency as string | null) ?? 'usd',
          firstMonth: row.price_first_month === 'prorated' ? 'prorated' : 'full',
        };
      }
      if (row.stripe_prices !== null) tier.stripePrices = row.stripe_prices as string[];
      if (row.rank !== null) tier.rank = row.rank as number;
      if (row.downgrade_tier !== null) tier.downgradeTier = row.downgrade_tier as string;
      policy.tiers[name] = tier;
    }
    for (const row of endpoints) {
      const name = row.name as string;
      const endpoint: Endpoint = {
        name,
        methods: row.methods as string[],
        path: row.path as string,
        cost: row.cost as number,
        overrides: {},
      };
      // jsonb arrives parsed from postgres.js and PGlite alike; a string only if a driver leaves it raw.
      if (row.metering != null)
        endpoint.metering = (
          typeof row.metering === 'string' ? JSON.parse(row.metering) : row.metering
        ) as Metering;
      for (const o of overrides.filter((o) => o.endpoint === name)) {
        const limits = overrideLimits.filter((l) => l.endpoint === name && l.tier === o.tier).map(toRule);
        endpoint.overrides[o.tier as string] = { allowed: o.allowed as boolean, limits };
      }
      policy.endpoints.push(endpoint);
    }
    if (domains.length > 0) policy.ratelimitDomains = {};
    for (const row of domains) {
      // jsonb arrives parsed from postgres.js and PGlite alike; a string only if a driver leaves it raw.
      const descriptors = typeof row.descriptors === 'string' ? JSON.parse(row.descriptors) : row.descriptors;
      const domain: RatelimitDomain = { descriptors: descriptors as RatelimitDomain['descriptors'] };
      if (row.counting) domain.counting = row.counting;
      if (row.response_headers) domain.responseHeaders = row.response_headers;
      policy.ratelimitDomains![row.name] = domain;
    }
    return policy;
  });
}

function toRule(row: LimitRow): LimitRule {
  const rule: LimitRule = {
    name: row.name,
    algorithm: row.algorithm,
    limit: row.limit_value,
    windowMs: row.window_ms,
    shadow: row.shadow,
  };
  if (row.burst !== null) rule.burst = row.burst;
  if (row.unit !== null) rule.unit = row.unit;
  return rule;
}
