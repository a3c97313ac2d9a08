// Sign-up's defences without a server: mailbox canonicalisation, the client address behind trusted
// proxies (TRUST_PROXY=on shorthand included), the sealed outbox payload, and the start-up checks.

import type { IncomingMessage } from 'node:http';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { InputError } from '../../src/errors.js';
import { emailHash, normalizeEmail } from '../../src/signup/normalize-email.js';
import { sealSignupEvent, unsealSignupEvent } from '../../src/signup/seal-signup-event.js';
import { addressLimitKey, createClientAddress } from '../../src/transports/http/client-address.js';

const SECRET = 'x'.repeat(32);

describe('normalizeEmail', () => {
  test('spellings of one mailbox give one canonical form', () => {
    const same = [
      'jane.doe@gmail.com',
      '"jane.doe"@gmail.com',
      'jane\u200b.doe@gmail.com',
      '\ufeffjane.d\u00adoe@gmail.com',
      'ｊａｎｅ．ｄｏｅ＠ｇｍａｉｌ．ｃｏｍ',
      'jane.doe@googlemail.com',
      'jane.doe@mail.gmail.com',
      'JaneDoe+newsletter@GMAIL.COM',
      'j.a.n.e.d.o.e@gmail.com.',
    ];
    for (const email of same) expect(normalizeEmail(email), email).toBe('janedoe@gmail.com');
  });

  test('dots matter outside Gmail; +tags never do; Unicode domains compare as punycode', () => {
    expect(normalizeEmail('Jane.Doe+x@Example.com')).toBe('jane.doe@example.com');
    expect(normalizeEmail('janedoe@example.com')).not.toBe(normalizeEmail('jane.doe@example.com'));
    expect(normalizeEmail('anna@bücher.example')).toBe(normalizeEmail('anna@xn--bcher-kva.example'));
  });

  test('not an address: null', () => {
    for (const bad of [
      '',
      'nope',
      '@example.com',
      'a@b',
      '"a"b"@example.com',
      'a\\b@example.com',
      '+x@gmail.com',
      `${'a'.repeat(65)}@example.com`,
    ])
      expect(normalizeEmail(bad), bad).toBeNull();
  });

  test('the stored form is an HMAC under SIGNUP_SECRET, not a hash anyone can compute', () => {
    const a = emailHash(SECRET, 'janedoe@gmail.com');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(emailHash('y'.repeat(32), 'janedoe@gmail.com')).not.toBe(a);
  });
});

describe('client address', () => {
  const req = (remoteAddress: string, xff?: string) =>
    ({
      socket: { remoteAddress },
      headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    }) as unknown as IncomingMessage;
  const onShorthand = createClientAddress(loadConfig({ TRUST_PROXY: 'on' }).trustedProxies);

  test('no trusted proxies: the socket address, X-Forwarded-For ignored', () => {
    expect(createClientAddress([])(req('198.51.100.7', '1.2.3.4'))).toBe('198.51.100.7');
    const one = createClientAddress(loadConfig({ TRUSTED_PROXIES: '192.0.2.1' }).trustedProxies);
    expect(one(req('192.0.2.1', '10.0.0.1, 198.51.100.9'))).toBe('198.51.100.9');
    expect(one(req('192.0.2.2', '198.51.100.9'))).toBe('192.0.2.2');
  });

  test('TRUST_PROXY=on: the rightmost hop that is not loopback or private', () => {
    // nginx ($proxy_add_x_forwarded_for) after a client that wrote its own `random, 127.0.0.1`:
    expect(onShorthand(req('127.0.0.1', '203.0.113.9, 127.0.0.1, 198.51.100.7'))).toBe('198.51.100.7');
    expect(onShorthand(req('10.1.2.3', '198.51.100.7, 10.0.0.5'))).toBe('198.51.100.7');
    expect(onShorthand(req('::ffff:127.0.0.1', 'junk, 198.51.100.7'))).toBe('198.51.100.7');
    // A public peer is the client whatever it claims.
    expect(onShorthand(req('198.51.100.7', '127.0.0.1'))).toBe('198.51.100.7');
    // Garbage right of the first untrusted hop: the last believable hop.
    expect(onShorthand(req('127.0.0.1', 'not-an-ip'))).toBe('127.0.0.1');
  });

  test('IPv6 is limited per /64', () => {
    expect(addressLimitKey('2001:db8:1:2::a')).toBe('2001:db8:1:2::/64');
    expect(addressLimitKey('2001:0db8:0001:0002:ffff:0:0:1')).toBe('2001:db8:1:2::/64');
    expect(addressLimitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressLimitKey('::1')).toBe('0:0:0:0::/64');
    expect(addressLimitKey('198.51.100.7')).toBe('198.51.100.7');
  });
});

describe('sealed signup.verify payload', () => {
  test('opens with the same secret only; holds nothing readable', () => {
    const event = {
      email: 'janedoe@gmail.com',
      token: 't'.repeat(43),
      expires_at: '2030-01-01T00:00:00.000Z',
    };
    const sealed = sealSignupEvent(SECRET, event);
    expect(JSON.stringify(sealed)).not.toContain('janedoe');
    expect(JSON.stringify(sealed)).not.toContain('ttttt');
    expect(unsealSignupEvent(SECRET, { ...sealed })).toEqual(event);
    expect(() => unsealSignupEvent('z'.repeat(32), { ...sealed })).toThrow(/SIGNUP_SECRET/);
  });
});

describe('start-up checks', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (err) {
      return (err as InputError).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };
  test('sign-up needs SIGNUP_SECRET, and with confirmation a webhook sink', () => {
    expect(problems({ SIGNUP_ENABLED: 'on' })).toEqual([
      expect.stringMatching(/^SIGNUP_SECRET: is required/),
      expect.stringMatching(/^EXPORT_WEBHOOK_URL: is required with SIGNUP_ENABLED=on and SIGNUP_CONFIRM=on/),
    ]);
    expect(problems({ SIGNUP_ENABLED: 'on', SIGNUP_SECRET: 'short', SIGNUP_CONFIRM: 'off' })).toEqual([
      expect.stringMatching(/^SIGNUP_SECRET: must be at least 32/),
    ]);
    expect(problems({ SIGNUP_ENABLED: 'on', SIGNUP_SECRET: SECRET, SIGNUP_CONFIRM: 'off' })).toEqual([]);
  });
  test('TRUSTED_PROXIES and SIGNUP_TOKEN_TTL are checked', () => {
    expect(problems({ TRUSTED_PROXIES: '10.0.0.0/8, nope, 10.0.0.0/33' })).toEqual([
      expect.stringMatching(/^TRUSTED_PROXIES: expected CIDRs .* but got "nope,10.0.0.0\/33"/),
    ]);
    expect(problems({ SIGNUP_TOKEN_TTL: '24' })).toEqual([
      expect.stringMatching(/^SIGNUP_TOKEN_TTL: expected a duration/),
    ]);
    expect(loadConfig({ SIGNUP_TOKEN_TTL: '30m' }).signup.tokenTtlMs).toBe(1_800_000);
    expect(loadConfig({}).signup.tokenTtlMs).toBe(86_400_000);
    expect(loadConfig({ TRUSTED_PROXIES: '192.0.2.1' }).trustedProxies).toEqual([
      { address: '192.0.2.1', prefix: 32, type: 'ipv4' },
    ]);
    expect(loadConfig({ TRUST_PROXY: 'on' }).trustedProxies.map((s) => `${s.address}/${s.prefix}`)).toEqual([
      '127.0.0.0/8',
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '::1/128',
      'fc00::/7',
    ]);
  });
});
