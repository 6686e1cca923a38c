/**
 * The reference PCG32 (O'Neill's pcg32 XSH-RR) written with BigInt, exactly as the worker's
 * generator was first written: 64-bit state arithmetic that is obviously right. The worker's
 * generator (worker/diffusion/random.ts) keeps its state in 32-bit halves for speed and must
 * produce these numbers bit for bit; the tests compare the two and the pipeline bench times both.
 */
import type { SeededRandom } from '../worker/diffusion/random.ts';

const MULT = 6364136223846793005n;
const MASK64 = (1n << 64n) - 1n;
const DEFAULT_STREAM = 1442695040888963407n;

export function createBigIntRandom(seed: number | bigint, stream: bigint = DEFAULT_STREAM): SeededRandom {
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
