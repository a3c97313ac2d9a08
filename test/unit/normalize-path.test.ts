import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/policy/normalize-path.js';
import { compilePathPattern } from '../../src/policy/route-match.js';

describe('normalizePath: forms every router reads as the same endpoint are read through', () => {
  it.each([
    ['/v1/chat/completions', '/v1/chat/completions'],
    ['/v1/chat/completions?stream=true', '/v1/chat/completions'],
    ['/v1/export?../../chat', '/v1/export'],
    ['/v1/export?%00#x', '/v1/export'],
    ['/v1//chat', '/v1/chat'],
    ['//v1///chat/', '/v1/chat'],
    ['/V1/Export/X', '/v1/export/x'],
    ['', '/'],
    ['/', '/'],
    ['http://api.example.com/v1/export/x?y', '/v1/export/x'],
    ['HTTPS://h:443/v1/export', '/v1/export'],
    ['http://api.example.com', '/'],
    ['/files/my%20doc', '/files/my%20doc'],
    ['/v1/caf%C3%A9', '/v1/caf%c3%a9'],
    ['/v1/a%2Fb'.replace('%2F', '%40'), '/v1/a%40b'],
    ['/v1/.well-known/x', '/v1/.well-known/x'],
    ['/v1/file.json', '/v1/file.json'],
    ["/v1/a:b/c@d/e!$&'()*+,=", "/v1/a:b/c@d/e!$&'()*+,="],
  ])('%j → %s', (input, expected) => {
    expect(normalizePath(input)).toEqual({ path: expected });
  });
});

describe('normalizePath: forms routers read differently are ambiguous', () => {
  it.each([
    ['/v1/chat/../export/x', /dot segment/],
    ['/v1/./export', /dot segment/],
    ['/../v1/export', /dot segment/],
    ['/v1/export/.', /dot segment/],
    ['/v1/x/%2e%2e/export', /letter, digit/],
    ['/v1/x/%2E%2E/export', /letter, digit/],
    ['/v1/x/.%2e/export', /letter, digit/],
    ['/v1/x/%252e%252e/export', /letter, digit/],
    ['/v1/x/%25252e%25252e/export', /letter, digit/],
    ['/v1/x/%25252525252e/export', /too many times/],
    ['/v1/%65xport', /letter, digit/],
    ['/v1/export%2e/x', /letter, digit/],
    ['/v1%2Fexport/x', /encoded \/ or/],
    ['/v1%2fexport/x', /encoded \/ or/],
    ['/v1%252Fexport/x', /encoded \/ or/],
    ['/v1%5cexport/x', /encoded \/ or/],
    ['/v1\\export\\x', /\\/],
    ['/v1/export;jsessionid=1/x', /;/],
    ['/v1/chat/..;/export', /;/],
    ['/v1/export%3bx/y', /encoded ;/],
    ['/v1/export%00/x', /control/],
    ['/v1/export%0d%0a/x', /control/],
    ['/v1/export%c2%85/x', /control/],
    ['/v1/export\0/x', /control/],
    ['/v1/export /x', /space/],
    ['/v1/export#/../chat', /#/],
    ['/v1/chat/%c0%ae%c0%ae/export/x', /not valid UTF-8/],
    ['/v1%c0%afexport/x', /not valid UTF-8/],
    ['/v1/chat/%e0%80%ae%e0%80%ae/export', /not valid UTF-8/],
    ['/%c3%28', /not valid UTF-8/],
    ['/%ff', /not valid UTF-8/],
    ['/%ed%a0%80', /not valid UTF-8/],
    ['/v1/%ef%bc%8e%ef%bc%8e/export', /normalises/],
    ['/v1/%e2%80%a5/export', /normalises/],
    ['/%zz/x', /not percent-encoding/],
    ['/x/%', /not percent-encoding/],
    ['/x/%25zz', /not percent-encoding/],
    ['/v1/export./x', /ends in a dot/],
    ['/v1/export../x', /ends in a dot/],
    ['/v1/export%20/x', /ends in a dot or a space/],
    ['/v1/expórt', /non-ASCII/],
    ['v1/export', /start with \//],
    ['*', /start with \//],
  ])('%j is ambiguous (%s)', (input, reason) => {
    const reading = normalizePath(input);
    expect(reading.path).toBeUndefined();
    expect(reading.ambiguous).toMatch(reason);
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
