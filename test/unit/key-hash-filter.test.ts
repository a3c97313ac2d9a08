// The in-process filter of key hashes: no false negatives, a measured false-positive rate, its memory,
// and layers added when the keys outgrow the capacity.

import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { hashApiKey, isWellFormedKey, generateApiKey } from '../../src/keys/api-key.js';
import { BITS_PER_KEY, FP_AT_CAPACITY, KeyHashFilter } from '../../src/keys/key-hash-filter.js';

const randomHash = () => hashApiKey(`tg_live_${randomBytes(20).toString('hex')}`);

describe('KeyHashFilter', () => {
  test('every added hash is found; unknown hashes are found at most at the designed rate', () => {
    const filter = new KeyHashFilter(200_000);
    const added = Array.from({ length: 200_000 }, randomHash);
    for (const hash of added) filter.add(hash);
    expect(added.every((hash) => filter.has(hash))).toBe(true);
    let positives = 0;
    const probes = 200_000;
    for (let i = 0; i < probes; i++) if (filter.has(randomHash())) positives++;
    const rate = positives / probes;
    const mbPerMillion = ((filter.bytes / filter.count) * 1e6) / 2 ** 20;
    console.log(
      `key filter: ${filter.count} keys, ${filter.bytes} bytes (${mbPerMillion.toFixed(2)} MiB per million keys), ` +
        `false positives ${positives}/${probes} = ${(rate * 100).toFixed(3)} % (designed at capacity: ${(FP_AT_CAPACITY * 100).toFixed(3)} %)`,
    );
    expect(rate).toBeLessThan(0.002);
    // Sized for 1.25× the expected keys at BITS_PER_KEY each.
    expect(filter.bytes).toBeLessThanOrEqual(Math.ceil((200_000 * 1.25 * BITS_PER_KEY) / 8) + 4);
  });

  test('keys beyond the capacity go to a new layer: still no false negatives, rate stays low', () => {
    const filter = new KeyHashFilter(0); // 65,536 keys of capacity
    const added = Array.from({ length: 300_000 }, randomHash);
    for (const hash of added) filter.add(hash);
    expect(added.every((hash) => filter.has(hash))).toBe(true);
    let positives = 0;
    for (let i = 0; i < 100_000; i++) if (filter.has(randomHash())) positives++;
    expect(positives / 100_000).toBeLessThan(0.004);
    // A hash the filter already answers "maybe" for is not added again (a false positive at add time).
    expect(filter.count).toBeGreaterThan(299_000);
  });

  test('adding a hash twice counts it once', () => {
    const filter = new KeyHashFilter();
    const hash = randomHash();
    filter.add(hash);
    filter.add(hash);
    expect(filter.count).toBe(1);
  });
});

describe('isWellFormedKey', () => {
  test('accepts what generateApiKey issues, refuses anything else', () => {
    for (let i = 0; i < 100; i++) expect(isWellFormedKey(generateApiKey().key)).toBe(true);
    for (const bad of [
      '',
      'tg_live_',
      `tg_live_${'a'.repeat(31)}`,
      `tg_live_${'a'.repeat(33)}`,
      `tg_live_${'0'.repeat(32)}`, // 0, 1, 8, 9 are not base32
      `TG_LIVE_${'a'.repeat(32)}`,
      `tg_test_${'a'.repeat(32)}`,
      `tg_live_${'A'.repeat(32)}`,
      `tg_live_${'a'.repeat(31)}\n`,
      `tg_live_${'a'.repeat(32)}\n`,
    ])
      expect(isWellFormedKey(bad)).toBe(false);
  });
});
