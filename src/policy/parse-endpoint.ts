// Policy file → Endpoint: method + path match, cost, and per-tier overrides (extra limits, feature gate).

import { parseLimits } from './parse-limits.js';
import { parseMetering } from './parse-metering.js';
import { INT4_MAX, type PolicyChecks } from './policy-checks.js';
import { DEFAULT_ENDPOINT, type Endpoint, type EndpointOverride } from './policy.js';

/** Methods a policy may name, upper or lower case; `POSTT` would never match a call, so it is an error. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'];
/** Any case (`get`, `Post`), as a pattern the JSON Schema can carry too: `^(?:[Gg][Ee][Tt]|…)$`. */
export const METHOD_PATTERN = `^(?:${HTTP_METHODS.map((m) => [...m].map((ch) => `[${ch}${ch.toLowerCase()}]`).join('')).join('|')})$`;
const METHOD = new RegExp(METHOD_PATTERN);
export const ENDPOINT_KEYS = ['match', 'cost', 'metering', 'overrides'];
export const MATCH_KEYS = ['methods', 'path'];
export const OVERRIDE_KEYS = ['allowed', 'limits'];
export const PATH_PATTERN = '^/\\S*$';
/** Visible ASCII except what normalize-path.ts refuses or cuts (`%`, `\\`, `;`, `?`, `#`). */
const PLAIN_SEGMENT = /^[\x21-\x22\x24\x26-\x3a\x3c-\x3e\x40-\x5b\x5d-\x7e]*$/;

export function parseEndpoint(
  c: PolicyChecks,
  name: string,
  value: unknown,
  path: string,
  tiers: Map<string, string[]>,
): Endpoint | undefined {
  if (name === DEFAULT_ENDPOINT)
    c.add(path, `"${DEFAULT_ENDPOINT}" is reserved for calls that match no endpoint`);
  const map = c.map(value, path, ENDPOINT_KEYS);
  if (!map) return undefined;
  const match = map.has('match')
    ? parseMatch(c, map.get('match'), `${path}.match`)
    : c.add(`${path}.match`, 'required');
  const cost = map.has('cost') ? c.int(map.get('cost'), `${path}.cost`, 0, INT4_MAX) : 1;
  const metering = map.has('metering')
    ? parseMetering(c, map.get('metering'), `${path}.metering`)
    : undefined;
  if (map.has('metering') && map.has('cost'))
    c.add(`${path}.cost`, 'a metered endpoint is charged by its settled units, not a fixed cost');
  const overrides: Record<string, EndpointOverride> = {};
  const overrideMap = map.has('overrides') ? c.map(map.get('overrides'), `${path}.overrides`) : undefined;
  for (const [tierName, raw] of overrideMap ?? []) {
    const at = `${path}.overrides.${tierName}`;
    if (!tiers.has(tierName)) {
      c.add(at, 'unknown tier');
      continue;
    }
    const override = parseOverride(c, raw, at, tierName, tiers.get(tierName)!);
    if (override) overrides[tierName] = override;
  }
  if (!match || cost === undefined || (map.has('metering') && !metering)) return undefined;
  const endpoint: Endpoint = { name, methods: match.methods, path: match.path, cost, overrides };
  if (metering) {
    endpoint.cost = metering.reserve;
    endpoint.metering = metering;
  }
  return endpoint;
}

function parseMatch(
  c: PolicyChecks,
  value: unknown,
  path: string,
): { methods: string[]; path: string } | undefined {
  const map = c.map(value, path, MATCH_KEYS);
  if (!map) return undefined;
  let methods: string[] | undefined = [];
  if (map.has('methods')) {
    const raw = map.get('methods');
    const list = Array.isArray(raw) ? raw : undefined;
    const bad = list?.findIndex((m) => typeof m !== 'string' || !METHOD.test(m)) ?? 0;
    methods =
      list && bad < 0
        ? [...new Set((list as string[]).map((m) => m.toUpperCase()))]
        : c.add(
            list ? `${path}.methods[${bad}]` : `${path}.methods`,
            `expected a list of HTTP methods (${HTTP_METHODS.join(', ')})`,
          );
  }
  const pattern = map.has('path')
    ? checkPath(c, map.get('path'), `${path}.path`)
    : c.add(`${path}.path`, 'required');
  return methods && pattern ? { methods, path: pattern } : undefined;
}

/** `*` is one whole segment; `**` only as the last segment (`/v1/chat/**`). */
function checkPath(c: PolicyChecks, value: unknown, path: string): string | undefined {
  if (typeof value !== 'string' || !new RegExp(PATH_PATTERN).test(value))
    return c.add(path, 'expected a path starting with /');
  const segments = value.split('/').slice(1);
  for (const [i, segment] of segments.entries()) {
    if (segment === '**' && i !== segments.length - 1)
      return c.add(path, '** is only allowed as the last segment (/**)');
    if (segment.includes('*') && segment !== '*' && segment !== '**')
      return c.add(path, '* and ** must be a whole segment');
    // A request path with such a segment is refused as ambiguous (normalize-path.ts): it could never match.
    if (!PLAIN_SEGMENT.test(segment) || /\.$/.test(segment))
      return c.add(path, 'segments are plain ASCII (no % \\ ; ? # or space) and do not end in a dot');
  }
  return value;
}

function parseOverride(
  c: PolicyChecks,
  value: unknown,
  path: string,
  tier: string,
  tierLimits: string[],
): EndpointOverride | undefined {
  const map = c.map(value, path, OVERRIDE_KEYS);
  if (!map) return undefined;
  const allowed = map.has('allowed') ? c.bool(map.get('allowed'), `${path}.allowed`) : true;
  const taken = new Map(tierLimits.map((name) => [name, `a limit of tier ${tier}`]));
  const limits = parseLimits(c, map.get('limits'), `${path}.limits`, taken);
  return allowed === undefined ? undefined : { allowed, limits };
}
