import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/policy/normalize-path.js';
import { PolicyResolver } from '../../src/policy/policy-resolver.js';
import { demoPolicy } from '../support/policies.js';

describe('PolicyResolver', () => {
  const resolver = new PolicyResolver(demoPolicy());

  it('adds the endpoint override limits to the tier limits, with distinct counter ids', () => {
    const call = resolver.resolve('free', 'POST', '/v1/chat/completions')!;
    expect(call.endpoint).toBe('chat');
    expect(call.cost).toBe(5);
    expect(call.allowed).toBe(true);
    expect(call.limits.map((l) => [l.id, l.name, l.limit])).toEqual([
      ['t:per-minute', 'per-minute', 10],
      ['e:chat:chat-minute', 'chat-minute', 5],
    ]);
  });

  it('matches methods: GET on chat is the default endpoint', () => {
    const call = resolver.resolve('free', 'GET', '/v1/chat/completions')!;
    expect(call.endpoint).toBe('default');
    expect(call.cost).toBe(1);
    expect(call.limits.map((l) => l.id)).toEqual(['t:per-minute']);
  });

  it('feature-gates an endpoint per tier, on every spelling normalizePath reads through', () => {
    for (const target of ['/v1/export/x', '/v1//export/x/', '/V1/EXPORT', 'http://h/v1/export?x=../chat']) {
      const path = normalizePath(target).path!;
      expect(resolver.resolve('free', 'GET', path)!.allowed, target).toBe(false);
    }
    expect(resolver.resolve('pro', 'GET', '/v1/export/x')!.allowed).toBe(true);
  });

  it('honours an endpoint named by the proxy and a cost hint', () => {
    const call = resolver.resolve('pro', 'GET', '/anything', 'chat', 7)!;
    expect(call.endpoint).toBe('chat');
    expect(call.cost).toBe(7);
    expect(resolver.resolve('pro', 'GET', '/v1/chat/x', 'no-such-endpoint')!.endpoint).toBe('default');
  });

  it('returns null for a tier the policy does not have', () => {
    expect(resolver.resolve('gold', 'GET', '/')).toBeNull();
  });
});
