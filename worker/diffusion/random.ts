/**
 * The one source of randomness in the diffusion code: a seeded PCG32 generator
 * (O'Neill's pcg32 XSH-RR, 64-bit state) with Box–Muller for normals.
 *
 * Why PCG32 and not Math.random: the same seed must give the same image bytes on every
 * machine, so the generator is specified bit for bit and carries no hidden global state.
 *
 * The 64-bit state lives in two unsigned 32-bit halves. Ancestral samplers draw a latent's
 * worth of normals every step (16k per image per step at 512 px), and BigInt arithmetic,
 * which allocates on every operation, made that cost milliseconds per step; the halves give
 * the same numbers bit for bit (a test checks them against a BigInt reference).
 */
const MULT = 6364136223846793005n;
const DEFAULT_STREAM = 1442695040888963407n;
const MULT_HI = Number(MULT >> 32n);
const MULT_LO = Number(MULT & 0xffffffffn);
/** MULT_LO in 16-bit halves, for the high word of a 32x32-bit product. */
const MULT_LO_1 = MULT_LO >>> 16;
const MULT_LO_0 = MULT_LO & 0xffff;
const TWO_32 = 4294967296;

export interface SeededRandom {
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number;
  /** `count` standard normal samples (Box–Muller, both outputs used). */
  normal(count: number): Float32Array;
}

/** A 64-bit value (two's complement, like BigInt.asUintN(64, v)) as [high, low] unsigned 32-bit halves. */
function halves(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
}

/**
 * One PCG32 draw. `s` is [state high, state low, increment high, increment low]; storing into a
 * Uint32Array reduces mod 2^32, which is what the 64-bit arithmetic needs of each half.
 */
function draw(s: Uint32Array): number {
  const oldHi = s[0];
  const oldLo = s[1];
  // state = state * MULT + inc (mod 2^64). The low word of oldLo * MULT_LO comes from
  // Math.imul; its high word from 16-bit partial products, each exact below 2^32.
  const a0 = oldLo & 0xffff;
  const a1 = oldLo >>> 16;
  const t = a0 * MULT_LO_0;
  const u = a1 * MULT_LO_0 + (t >>> 16);
  const v = a0 * MULT_LO_1 + (u & 0xffff);
  const loMulHi = a1 * MULT_LO_1 + (u >>> 16) + (v >>> 16);
  const newLo = (Math.imul(oldLo, MULT_LO) >>> 0) + s[3];
  s[0] = loMulHi + Math.imul(oldHi, MULT_LO) + Math.imul(oldLo, MULT_HI) + s[2] + (newLo >= TWO_32 ? 1 : 0);
  s[1] = newLo;
  // Output from the old state: ((old >> 18) ^ old) >> 27, low 32 bits, rotated by old >> 59.
  const xHi = (oldHi >>> 18) ^ oldHi;
  const xLo = ((oldLo >>> 18) | (oldHi << 14)) ^ oldLo;
  const xorshifted = ((xLo >>> 27) | (xHi << 5)) >>> 0;
  const rot = oldHi >>> 27;
  return ((xorshifted >>> rot) | (xorshifted << ((32 - rot) & 31))) >>> 0;
}

export function createRandom(seed: number | bigint, stream: bigint = DEFAULT_STREAM): SeededRandom {
  const [incHi, incLo] = halves((stream << 1n) | 1n);
  const s = new Uint32Array([0, 0, incHi, incLo]);
  draw(s);
  const [seedHi, seedLo] = halves(BigInt(seed));
  const sumLo = s[1] + seedLo;
  s[0] = s[0] + seedHi + (sumLo >= TWO_32 ? 1 : 0);
  s[1] = sumLo;
  draw(s);

  const nextUint32 = (): number => draw(s);
  const nextFloat = () => nextUint32() / TWO_32;

  const normal = (count: number): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      // 1 - u keeps the log argument in (0, 1]
      const u1 = 1 - draw(s) / TWO_32;
      const u2 = draw(s) / TWO_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  };
  return { nextUint32, nextFloat, normal };
}

/** Initial latent noise for one image: a pure function of the seed. */
export function seededNoise(seed: number, count: number): Float32Array {
  return createRandom(seed).normal(count);
}
