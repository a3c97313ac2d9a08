import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/policy/normalize-path.js';
import { compilePathPattern } from '../../src/policy/route-match.js';

describe('normalizePath', () => {
  it.each([
    ['/v1/chat/completions', '/v1/chat/completions'],
    ['/v1/chat/completions?stream=true', '/v1/chat/completions'],
    ['/v1/chat#frag', '/v1/chat'],
    ['/v1//chat', '/v1/chat'],
    ['//v1///chat/', '/v1/chat'],
    ['/v1/./chat', '/v1/chat'],
    ['/v1/chat/../export/x', '/v1/export/x'],
    ['/v1/x/%2e%2e/export', '/v1/export'],
    ['/v1/x/%2E%2E/export', '/v1/export'],
    ['/v1%2Fexport/x', '/v1/export/x'],
    ['/v1%252Fexport/x', '/v1/export/x'],
    ['/v1\\export\\x', '/v1/export/x'],
    ['/V1/Export/X', '/v1/export/x'],
    ['/v1/export./x', '/v1/export/x'],
    ['/v1/export;jsessionid=1/x', '/v1/export/x'],
    ['/v1/%65xport', '/v1/export'],
    ['/../../v1/export', '/v1/export'],
    ['', '/'],
    ['/%zz/%', '/%zz/%'],
    ['/%c3%28', '/%c3%28'],
    ['/v1/%2e%2e%2fexport', '/export'],
    ['http://api.example.com/v1/export/x?y', '/v1/export/x'],
    ['HTTPS://h:443/v1/export', '/v1/export'],
    ['/v1/chat/%c0%ae%c0%ae/export/x', '/v1/export/x'],
    ['/v1%c0%afexport/x', '/v1/export/x'],
    ['/v1/chat/%e0%80%ae%e0%80%ae/export', '/v1/export'],
    ['/v1/export%00/x', '/v1/export'],
    ['/%c0%zz', '/%c0%zz'],
  ])('%s → %s', (input, expected) => {
    expect(normalizePath(input)).toBe(expected);
  });
});

describe('compilePathPattern', () => {
  const deep = compilePathPattern('/v1/chat/**');
  const one = compilePathPattern('/v1/items/*');
  const exact = compilePathPattern('/v1/me');
  it.each([
    [deep, '/v1/chat', true],
    [deep, '/v1/chat/completions', true],
    [deep, '/v1/chat/a/b/c', true],
    [deep, '/v1/chatx', false],
    [deep, '/v1', false],
    [one, '/v1/items/42', true],
    [one, '/v1/items', false],
    [one, '/v1/items/42/parts', false],
    [exact, '/v1/me', true],
    [exact, '/v1/me/x', false],
  ])('pattern %# matches %s: %s', (match, path, expected) => {
    expect(match(path)).toBe(expected);
  });
});
