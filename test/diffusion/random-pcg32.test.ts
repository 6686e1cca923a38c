/**
 * The worker's PCG32 (32-bit halves) against the BigInt reference: the same numbers bit for
 * bit for every seed and stream, including values at the 2^32 and 2^64 wrap points, and the
 * published first outputs of pcg32 for O'Neill's demo seed.
 */
import { describe, expect, it } from 'vitest';
import { createRandom, seededNoise } from '../../worker/diffusion/random.ts';
import { createBigIntRandom } from '../../kit/pcg32-bigint.ts';

const TWO_32 = 2 ** 32;
const TWO_64 = 1n << 64n;

const SEEDS: (number | bigint)[] = [
  0, 1, 2, 42, 12345, 0x7fffffff, 0x80000000,
  TWO_32 - 2, TWO_32 - 1, TWO_32, TWO_32 + 1, 2 ** 33 + 7,
  Number.MAX_SAFE_INTEGER, -1, -2, -TWO_32,
  (1n << 63n) - 1n, 1n << 63n, TWO_64 - 2n, TWO_64 - 1n, TWO_64, TWO_64 + 5n, -(1n << 63n), -TWO_64 - 3n,
];
const STREAMS: bigint[] = [1442695040888963407n, 0n, 1n, 54n, 0xffffffffn, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, TWO_64 - 1n, TWO_64 + 9n, -1n, 0xda3e39cb94b95bdbn];

/** A deterministic spread of further seeds (splitmix-style), across the whole 64-bit range. */
function spreadSeeds(n: number): bigint[] {
  let x = 0x9e3779b97f4a7c15n;
  return Array.from({ length: n }, () => {
    x = (x * 0xbf58476d1ce4e5b9n + 0x94d049bb133111ebn) & (TWO_64 - 1n);
    return x ^ (x >> 31n);
  });
}

function uints(r: { nextUint32(): number }, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.nextUint32();
  return out;
}

/** Index of the first difference, or -1: a failure names where the sequences part. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('PCG32 in 32-bit halves equals the BigInt reference', () => {
  it('100k draws for every listed seed on the default stream', () => {
    for (const seed of SEEDS) {
      const at = firstDifference(uints(createRandom(seed), 100_000), uints(createBigIntRandom(seed), 100_000));
      expect({ seed: String(seed), firstDifference: at }).toEqual({ seed: String(seed), firstDifference: -1 });
    }
  });

  it('every listed seed on every listed stream (5k draws each), and 200 spread seeds x streams (1k draws)', () => {
    const cases: Array<[number | bigint, bigint, number]> = [];
    for (const seed of SEEDS) for (const stream of STREAMS) cases.push([seed, stream, 5_000]);
    const spread = spreadSeeds(200);
    spread.forEach((seed, i) => cases.push([seed, STREAMS[i % STREAMS.length], 1_000]));
    spread.forEach((seed, i) => cases.push([Number(seed & 0xffffffffn), spread[(i + 1) % spread.length], 1_000]));
    for (const [seed, stream, n] of cases) {
      const at = firstDifference(uints(createRandom(seed, stream), n), uints(createBigIntRandom(seed, stream), n));
      expect({ seed: String(seed), stream: String(stream), firstDifference: at }).toEqual({ seed: String(seed), stream: String(stream), firstDifference: -1 });
    }
  });

  it('normals and floats are bit-identical (a 512 px latent, odd counts, several seeds)', () => {
    for (const [seed, count] of [[0, 16_384], [42, 4 * 64 * 64], [TWO_32 - 1, 4 * 64 * 64 + 1], [7, 1], [123456789, 999]] as const) {
      const ours = createRandom(seed, 7n).normal(count);
      const ref = createBigIntRandom(seed, 7n).normal(count);
      expect(firstDifference(new Uint32Array(ours.buffer), new Uint32Array(ref.buffer))).toBe(-1);
      expect(firstDifference(new Uint32Array(seededNoise(seed, count).buffer), new Uint32Array(createBigIntRandom(seed).normal(count).buffer))).toBe(-1);
    }
    const a = createRandom(99);
    const b = createBigIntRandom(99);
    const floats = (r: { nextFloat(): number }) => Float64Array.from({ length: 10_000 }, () => r.nextFloat());
    expect(firstDifference(floats(a), floats(b))).toBe(-1);
  });

  it('reproduces the first outputs of the pcg32 reference demo (seed 42, stream 54)', () => {
    // pcg32-demo from pcg-c-basic: pcg32_srandom_r(&rng, 42u, 54u), then pcg32_random_r.
    expect(Array.from(uints(createRandom(42, 54n), 6), (x) => x.toString(16).padStart(8, '0'))).toEqual([
      'a15c02b7', '7b47f409', 'ba1d3330', '83d2f293', 'bfa4784b', 'cbed606e',
    ]);
  });

  it('refuses a non-integer seed as the reference does', () => {
    expect(() => createRandom(1.5)).toThrow(RangeError);
    expect(() => createBigIntRandom(1.5)).toThrow(RangeError);
  });
});
