// The policy file's JSON Schema (editors, CI, the admin API's OpenAPI), built from the key lists, patterns
// and enums the validator (policy-file.ts) checks with. Shipped as schema/policy.schema.json; a test
// keeps the file current. What a schema cannot say (an override naming an unknown tier, a limit name
// used twice, burst only with token_bucket, `**` only last) stays in the validator.

import { DESCRIPTOR_KEYS, DOMAIN_KEYS, RATE_LIMIT_KEYS, TEXT_PATTERN } from './parse-ratelimit-domains.js';
import { RLS_COUNTING, RLS_RESPONSE_HEADERS } from './ratelimit-rules.js';
import { HEADER_NAME_PATTERN, METERING_KEYS } from './parse-metering.js';
import { ENDPOINT_KEYS, MATCH_KEYS, METHOD_PATTERN, OVERRIDE_KEYS, PATH_PATTERN } from './parse-endpoint.js';
import { LIMIT_KEYS } from './parse-limits.js';
import {
  CURRENCY_PATTERN,
  FIRST_MONTH_MODES,
  OVERAGE_MODES,
  PRICE_KEYS,
  QUOTA_KEYS,
  QUOTA_PERIODS,
  TIER_KEYS,
} from './parse-tier.js';
import { PRICE_ID_PATTERN } from './parse-tier-billing.js';
import { ALGORITHMS, DURATION_PATTERN, NAME_PATTERN, URL_PATTERN } from './policy-checks.js';
import { DEFAULT_ENDPOINT } from './policy.js';

type Schema = Record<string, unknown>;

export const POLICY_SCHEMA_ID = 'https://tollgate.dev/schema/policy.schema.json';

export function policySchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: POLICY_SCHEMA_ID,
    title: 'Tollgate policy file',
    description:
      'Tiers, endpoints and Envoy rate-limit rules; `tollgate apply` and PUT /admin/policy take it.',
    ...object(
      {
        tiers: tiers(),
        endpoints: endpoints(),
        ratelimit_domains: ratelimitDomains(),
        downgrade_tier: { ...name, description: 'the downgrade tier of every tier that names none' },
      },
      ['tiers'],
    ),
    $defs: { limit: limit(), descriptor: descriptor() },
  };
}

/**
 * The same schema inside another document (the admin API's OpenAPI): its `$defs` become entries of
 * that document's `components.schemas`, named `policy.<def>`, and the references follow.
 */
export function policySchemaAsComponents(): { schema: Schema; components: Record<string, Schema> } {
  const { $schema: _dialect, $id: _id, $defs, ...rest } = policySchema();
  const moved = (value: unknown): Schema =>
    JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/policy.'));
  const components: Record<string, Schema> = {};
  for (const [name, def] of Object.entries($defs as Record<string, Schema>))
    components[`policy.${name}`] = moved(def);
  return { schema: moved(rest), components };
}

/** A mapping with exactly these keys (the validator rejects unknown keys too: typos must not pass). */
function object(
  properties: Record<string, Schema>,
  required: string[] = [],
  keys?: readonly string[],
): Schema {
  const names = Object.keys(properties);
  if (keys && (keys.length !== names.length || keys.some((k) => !names.includes(k))))
    throw new Error(`the schema's keys ${names.join(',')} differ from the validator's ${keys.join(',')}`);
  return { type: 'object', properties, required, additionalProperties: false };
}

const integer = (minimum: number): Schema => ({ type: 'integer', minimum });
const name: Schema = { type: 'string', pattern: NAME_PATTERN };
const duration: Schema = { type: 'string', pattern: DURATION_PATTERN, description: '500ms, 30s, 1m, 1h, 1d' };
const text: Schema = { type: 'string', pattern: TEXT_PATTERN };
const algorithm: Schema = { enum: [...ALGORITHMS] };

function limit(): Schema {
  const properties = {
    name,
    algorithm,
    limit: integer(1),
    window: duration,
    burst: { ...integer(1), description: 'token_bucket only: bucket capacity (default: limit)' },
    shadow: { type: 'boolean' },
    unit: {
      ...name,
      description: 'calls (default), or a unit name: the limit counts the call cost in units',
    },
  };
  return object(properties, ['name', 'limit', 'window'], LIMIT_KEYS);
}

function tiers(): Schema {
  const quota = {
    oneOf: [
      { const: 'unlimited' },
      object(
        { requests: integer(0), period: { enum: [...QUOTA_PERIODS] }, overage: { enum: [...OVERAGE_MODES] } },
        ['requests', 'period'],
        QUOTA_KEYS,
      ),
    ],
  };
  const price = object(
    {
      monthly: { type: 'number', minimum: 0 },
      overage_per_1000: { type: 'number', minimum: 0 },
      currency: { type: 'string', pattern: CURRENCY_PATTERN },
      first_month: {
        enum: [...FIRST_MONTH_MODES],
        description: 'the month the account was created in: full price, or prorated by the days it existed',
      },
    },
    ['monthly'],
    PRICE_KEYS,
  );
  const tier = object(
    {
      limits: { type: 'array', items: { $ref: '#/$defs/limit' } },
      quota,
      credits_per_request: integer(0),
      upgrade_url: { type: 'string', pattern: URL_PATTERN },
      price,
      stripe_prices: {
        type: 'array',
        items: { type: 'string', pattern: PRICE_ID_PATTERN },
        description: 'Stripe prices whose active subscription puts an account on this tier',
      },
      rank: { ...integer(0), description: 'several subscribed prices: the highest rank wins' },
      downgrade_tier: { ...name, description: 'where a subscription that ended leaves the account' },
    },
    ['quota'],
    TIER_KEYS,
  );
  return { type: 'object', minProperties: 1, propertyNames: name, additionalProperties: tier };
}

function endpoints(): Schema {
  const match = object(
    {
      methods: { type: 'array', items: { type: 'string', pattern: METHOD_PATTERN } },
      path: {
        type: 'string',
        pattern: PATH_PATTERN,
        description: '`*` one segment, a trailing `/**` all below',
      },
    },
    ['path'],
    MATCH_KEYS,
  );
  const override = object(
    { allowed: { type: 'boolean' }, limits: { type: 'array', items: { $ref: '#/$defs/limit' } } },
    [],
    OVERRIDE_KEYS,
  );
  const endpoint = object(
    {
      match,
      cost: integer(0),
      metering: object(
        {
          unit: name,
          reserve: integer(1),
          reserve_header: { type: 'string', pattern: HEADER_NAME_PATTERN },
          max_reserve: integer(1),
          settle_within: duration,
        },
        ['reserve'],
        METERING_KEYS,
      ),
      overrides: { type: 'object', propertyNames: name, additionalProperties: override },
    },
    ['match'],
    ENDPOINT_KEYS,
  );
  return {
    type: 'object',
    propertyNames: { ...name, not: { const: DEFAULT_ENDPOINT } },
    additionalProperties: endpoint,
  };
}

function ratelimitDomains(): Schema {
  const domain = object(
    {
      descriptors: { type: 'array', items: { $ref: '#/$defs/descriptor' } },
      counting: {
        enum: [...RLS_COUNTING],
        description: 'envoy: count as envoyproxy/ratelimit (denied hits count); tollgate: all or nothing',
      },
      response_headers: { enum: [...RLS_RESPONSE_HEADERS] },
    },
    ['descriptors'],
    DOMAIN_KEYS,
  );
  return { type: 'object', propertyNames: text, additionalProperties: domain };
}

function descriptor(): Schema {
  const rateLimit = object(
    {
      name: text,
      unlimited: { type: 'boolean' },
      algorithm,
      limit: integer(0),
      window: duration,
      burst: integer(1),
      replaces: { type: 'array', items: text },
    },
    [],
    RATE_LIMIT_KEYS,
  );
  return object(
    {
      key: text,
      value: { oneOf: [text, { type: 'number' }] },
      rate_limit: rateLimit,
      shadow: { type: 'boolean' },
      share_threshold: { type: 'boolean' },
      quota_mode: { type: 'boolean' },
      descriptors: { type: 'array', items: { $ref: '#/$defs/descriptor' } },
    },
    ['key'],
    DESCRIPTOR_KEYS,
  );
}
