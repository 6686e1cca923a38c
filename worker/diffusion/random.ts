/**
 * The one source of randomness in the diffusion code: a seeded PCG32 generator
 * (O'Neill's pcg32 XSH-RR, 64-bit state) with Box–Muller for normals.
 *
 * Why PCG32 and not Math.random: the same seed must give the same image bytes on every
 * machine, so the generator is specified bit for bit and carries no hidden global state.
 * BigInt keeps the 64-bit state arithmetic exact; it only runs when noise is drawn, which
 * is a few thousand numbers per image, not per pixel per step.
 */
const MULT = 6364136223846793005n;
const MASK64 = (1n << 64n) - 1n;
const DEFAULT_STREAM = 1442695040888963407n;

export interface SeededRandom {
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number;
  /** `count` standard normal samples (Box–Muller, both outputs used). */
  normal(count: number): Float32Array;
}

export function createRandom(seed: number | bigint, stream: bigint = DEFAULT_STREAM): SeededRandom {
  let state = 0n;
  const inc = ((stream << 1n) | 1n) & MASK64;
  const step = () => {
    state = (state * MULT + inc) & MASK64;
  };
  step();
  state = (state + (BigInt(seed) & MASK64)) & MASK64;
  step();

  const nextUint32 = (): number => {
    const old = state;
    step();
    const xorshifted = Number((((old >> 18n) ^ old) >> 27n) & 0xffffffffn);
    const rot = Number(old >> 59n);
    return ((xorshifted >>> rot) | (xorshifted << ((32 - rot) & 31))) >>> 0;
  };
  const nextFloat = () => nextUint32() / 4294967296;

  const normal = (count: number): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      // 1 - u keeps the log argument in (0, 1]
      const u1 = 1 - nextFloat();
      const u2 = nextFloat();
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
