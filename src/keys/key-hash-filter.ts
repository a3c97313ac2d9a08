// Decision path, before the key cache's Postgres lookup: "could this key hash exist?" from process memory.
//
// A Bloom filter over the hex SHA-256 of every stored key: no false negatives, so a "no" refuses an
// unknown key without a query; a "yes" for an unknown key (a false positive) costs one lookup, then the
// negative cache. The bit positions come from the hash itself (double hashing over two 32-bit words of
// the SHA-256): the input is already uniform, and nobody can choose a key whose hash lands on set bits
// without a SHA-256 preimage. Keys are only added (a Bloom filter cannot delete): revoked or deleted
// keys stay "maybe" and are answered by the lookup, until the next rebuild at start.
//
// When the keys outgrow the capacity, a new layer of twice the capacity is added (a scalable Bloom
// filter): the false-positive rate then sums over the layers, each at most FP_AT_CAPACITY.

/** Bits per key of capacity: 16 bits = 2 bytes, so 2 MB per million keys at capacity. */
export const BITS_PER_KEY = 16;
/** Positions per key: optimal for 16 bits per key is 16·ln 2 ≈ 11. */
export const PROBES = 11;
/** (1 − e^(−PROBES/BITS_PER_KEY))^PROBES: the false-positive rate of a full layer (≈ 0.046 %). */
export const FP_AT_CAPACITY = (1 - Math.exp(-PROBES / BITS_PER_KEY)) ** PROBES;
const MIN_CAPACITY = 65_536;

class Layer {
  readonly bits: Uint32Array;
  readonly size: number;
  count = 0;

  constructor(readonly capacity: number) {
    this.size = Math.ceil((capacity * BITS_PER_KEY) / 32) * 32;
    this.bits = new Uint32Array(this.size / 32);
  }

  add(h1: number, h2: number): void {
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + i * h2) % this.size;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
    this.count++;
  }

  has(h1: number, h2: number): boolean {
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + i * h2) % this.size;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

export class KeyHashFilter {
  private readonly layers: Layer[];

  /** `expectedKeys`: keys about to be added (sized with room for 25 % more, at least 65,536). */
  constructor(expectedKeys = 0) {
    this.layers = [new Layer(Math.max(MIN_CAPACITY, Math.ceil(expectedKeys * 1.25)))];
  }

  /** `hash`: lower-case hex SHA-256 (64 characters). Idempotent in effect (a repeat only counts twice). */
  add(hash: string): void {
    if (this.has(hash)) return;
    let layer = this.layers.at(-1)!;
    if (layer.count >= layer.capacity) {
      layer = new Layer(layer.capacity * 2);
      this.layers.push(layer);
    }
    layer.add(word(hash, 0), (word(hash, 8) | 1) >>> 0);
  }

  /** false = certainly not added; true = added, or a false positive. */
  has(hash: string): boolean {
    const h1 = word(hash, 0);
    const h2 = (word(hash, 8) | 1) >>> 0;
    for (const layer of this.layers) if (layer.has(h1, h2)) return true;
    return false;
  }

  /** Hashes added (distinct, as far as the filter can tell). */
  get count(): number {
    return this.layers.reduce((sum, layer) => sum + layer.count, 0);
  }

  /** Memory of the bit arrays, bytes. */
  get bytes(): number {
    return this.layers.reduce((sum, layer) => sum + layer.bits.byteLength, 0);
  }
}

/** 32 bits of the hex hash from character `at` (NaN-safe: a non-hex string reads as 0 there). */
function word(hash: string, at: number): number {
  return Number.parseInt(hash.slice(at, at + 8), 16) >>> 0;
}
