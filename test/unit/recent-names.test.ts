import { describe, expect, test } from 'vitest';
import { recentName } from '../../src/transports/grpc/lean/recent-names.js';

/** `text` at an offset inside a larger buffer, as a field sits inside a request. */
function field(text: string | Buffer): [Buffer, number, number] {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const buf = Buffer.concat([Buffer.from('pre'), bytes, Buffer.from('post')]);
  return [buf, 3, 3 + bytes.length];
}

describe('recentName', () => {
  test('returns each name as its bytes say, cached or not, through collisions and evictions', () => {
    // More names than the cache has slots, twice over: each slot is shared and overwritten.
    const names = Array.from({ length: 3000 }, (_, i) => `x-header-${i.toString(36)}`);
    for (let round = 0; round < 2; round++)
      for (const name of names) expect(recentName(...field(name))).toBe(name);
  });

  test('a name differing in one byte from a cached one is not taken for it', () => {
    expect(recentName(...field('x-api-key'))).toBe('x-api-key');
    expect(recentName(...field('x-api-kez'))).toBe('x-api-kez');
    expect(recentName(...field('x-api-key'))).toBe('x-api-key');
    expect(recentName(...field('X-api-key'))).toBe('X-api-key');
  });

  test('UTF-8 and invalid bytes decode as protobuf strings do; long names are decoded', () => {
    expect(recentName(...field('clé'))).toBe('clé');
    expect(recentName(...field(Buffer.from([0x61, 0xff, 0x62])))).toBe('a\ufffdb');
    const long = 'x'.repeat(200);
    expect(recentName(...field(long))).toBe(long);
    expect(recentName(...field(long))).toBe(long);
  });
});
