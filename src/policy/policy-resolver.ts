// Tier + method + path → the endpoint, its feature gate, cost and every limit that applies.
// Everything that does not depend on the request is computed once per policy load.

import type { LimitCheck } from './limit-rule.js';
import {
  DEFAULT_ENDPOINT,
  type Endpoint,
  type LimitRule,
  type Metering,
  type Policy,
  type Tier,
} from './policy.js';
import { compilePathPattern } from './route-match.js';

export interface ResolvedCall {
  tier: Tier;
  endpoint: string;
  /** false: the endpoint is feature-gated off for this tier (403). */
  allowed: boolean;
  /** Quota units per call (a metered endpoint: the units reserved when no hint raises them). */
  cost: number;
  /** Set: the call is metered, its cost a reservation settled later. */
  metering?: Metering;
  /** Tier limits followed by the endpoint override's limits. */
  limits: LimitCheck[];
  /** Some limit counts units: its hits are the call's units (unitHits), not 1. */
  countsUnits?: true;
}

/** `call.limits` with every unit-counting limit's hits set to this call's units. */
export function unitHits(call: ResolvedCall, units: number): LimitCheck[] {
  if (!call.countsUnits) return call.limits;
  return call.limits.map((l) => (l.unit === undefined ? l : { ...l, hits: units }));
}

interface CompiledEndpoint {
  endpoint: Endpoint;
  methods: Set<string> | null;
  matches: (path: string) => boolean;
}

export class PolicyResolver {
  private readonly endpoints: CompiledEndpoint[];
  private readonly byName = new Map<string, CompiledEndpoint>();
  /**
   * tier → endpoint → the prepared answer, shared by every call (never mutated). Two lookups, not one
   * by a joined key: no string is built and hashed per decision.
   */
  private readonly prepared = new Map<string, Map<string, ResolvedCall>>();

  constructor(readonly policy: Policy) {
    this.endpoints = policy.endpoints.map((endpoint) => ({
      endpoint,
      methods: endpoint.methods.length > 0 ? new Set(endpoint.methods) : null,
      matches: compilePathPattern(endpoint.path),
    }));
    for (const compiled of this.endpoints) this.byName.set(compiled.endpoint.name, compiled);
    for (const tier of Object.values(policy.tiers)) {
      this.prepare(tier, undefined);
      for (const endpoint of policy.endpoints) this.prepare(tier, endpoint);
    }
  }

  /**
   * null when the tier is not in the policy. `path` is as normalizePath read it (the caller refused
   * ambiguous ones). `costHint` (quota units) replaces the endpoint's cost.
   */
  resolve(
    tier: string,
    method: string,
    path: string,
    endpointHint?: string,
    costHint?: number,
  ): ResolvedCall | null {
    const endpoint = this.findEndpoint(method, path, endpointHint);
    const call = this.prepared.get(tier)?.get(endpoint);
    if (!call) return null;
    return costHint === undefined || costHint === call.cost ? call : { ...call, cost: costHint };
  }

  private findEndpoint(method: string, path: string, hint: string | undefined): string {
    if (hint !== undefined && this.byName.has(hint)) return hint;
    for (const { endpoint, methods, matches } of this.endpoints) {
      if ((methods === null || methods.has(method)) && matches(path)) return endpoint.name;
    }
    return DEFAULT_ENDPOINT;
  }

  private prepare(tier: Tier, endpoint: Endpoint | undefined): void {
    const override = endpoint?.overrides[tier.name];
    const limits = tier.limits.map((rule) => toCheck(`t:${rule.name}`, rule));
    if (endpoint && override)
      limits.push(...override.limits.map((rule) => toCheck(`e:${endpoint.name}:${rule.name}`, rule)));
    const name = endpoint?.name ?? DEFAULT_ENDPOINT;
    const call: ResolvedCall = {
      tier,
      endpoint: name,
      allowed: override?.allowed ?? true,
      cost: endpoint?.cost ?? 1,
      limits,
    };
    if (endpoint?.metering) call.metering = endpoint.metering;
    if (limits.some((l) => l.unit !== undefined)) call.countsUnits = true;
    let calls = this.prepared.get(tier.name);
    if (!calls) this.prepared.set(tier.name, (calls = new Map()));
    calls.set(name, call);
  }
}

function toCheck(id: string, rule: LimitRule): LimitCheck {
  const check: LimitCheck = {
    id,
    name: rule.name,
    algorithm: rule.algorithm,
    limit: rule.limit,
    windowMs: rule.windowMs,
    shadow: rule.shadow,
    hits: 1,
  };
  if (rule.burst !== undefined) check.burst = rule.burst;
  if (rule.unit !== undefined) check.unit = rule.unit;
  return check;
}
