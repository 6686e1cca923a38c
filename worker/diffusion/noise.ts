/**
 * Initial latent noise. Image i of a request uses seed + i with the project's PCG32 +
 * Box–Muller generator (random.ts), so any image of a batch can be regenerated alone.
 */
import { createRandom, seededNoise, type SeededRandom } from './random.ts';

/** A second stream for the noise ancestral samplers inject during steps. */
const STEP_STREAM = 0x5eed5eed5eedn;

export function checkSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${what} must be a non-negative integer, got ${seed}`);
}

export function stepGenerator(seed: number): SeededRandom {
  return createRandom(seed, STEP_STREAM);
}

/**
 * Spherical interpolation between two noise tensors (A1111's variation seeds): a small
 * `t` keeps the composition of `a` and nudges it towards `b` while the result stays
 * Gaussian-like (a linear mix would shrink its variance).
 */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let na = 0;
  let nb = 0;
  let dot = 0;
  for (let i = 0; i < a.length; i++) {
    na += a[i] * a[i];
    nb += b[i] * b[i];
    dot += a[i] * b[i];
  }
  const cos = dot / Math.sqrt(na * nb);
  const out = new Float32Array(a.length);
  if (Math.abs(cos) > 0.9995) {
    for (let i = 0; i < a.length; i++) out[i] = a[i] * (1 - t) + b[i] * t;
    return out;
  }
  const omega = Math.acos(cos);
  const so = Math.sin(omega);
  const wa = Math.sin((1 - t) * omega) / so;
  const wb = Math.sin(t * omega) / so;
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + wb * b[i];
  return out;
}

export function imageNoise(seed: number, count: number, blend?: { seed: number; amount: number }): Float32Array {
  const base = seededNoise(seed, count);
  if (!blend || blend.amount === 0) return base;
  return slerp(base, seededNoise(blend.seed, count), blend.amount);
}
