/**
 * The sampler kernels give, value for value, the bits of their formulas evaluated one float32
 * operation at a time (Math.fround of each), for the branches the diffusers reference runs in
 * schedulers.test.ts do not reach: every prediction type, clipping, Euler a's and LCM's noise,
 * PNDM's accumulation and every multistep order, DPM-Solver++'s v_prediction and heun update.
 * The length is not a multiple of 4, so the padded last group is covered too.
 */
import { describe, expect, it } from 'vitest';
import { SamplerScratch } from '../../worker/diffusion/kernels/sampler-scratch.ts';

const f = Math.fround;
const N = 4 * 9 + 3;

/** Values of every sign and size, with exact zeros among them. */
function values(seed: number): Float32Array {
  const out = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    out[i] = i % 11 === 5 ? 0 : ((seed / 2 ** 32 - 0.5) * 6) ** 3;
  }
  return out;
}

const x = values(1);
const m = values(2);
const noise = values(3);
const e = [values(4), values(5), values(6), values(7)];

/** Runs `kernel` on a scratch loaded with `inputs` (regions 0..), returning regions `outputs`. */
function run(inputs: Float32Array[], outputs: number[], kernel: (k: SamplerScratch, at: number[]) => void): Float32Array[] {
  const k = SamplerScratch.of(N);
  const at = inputs.map((v, i) => k.load(i, v));
  kernel(k, at);
  return outputs.map((i) => {
    const out = new Float32Array(N);
    k.store(i, out);
    return out;
  });
}

function expectBits(actual: Float32Array, formula: (i: number) => number, what: string): void {
  const wrong = Array.from(actual)
    .map((v, i) => [i, v, f(formula(i))])
    .filter(([, a, b]) => !Object.is(a, b));
  expect(wrong.slice(0, 3), what).toEqual([]);
}

describe('sampler kernels', () => {
  for (const kind of [0, 1, 2]) {
    it(`euler, prediction ${kind}, with and without noise`, () => {
      const [sigma, dt, vIn, vSkip, up] = [f(3.7), f(-0.61), f(-0.96), f(14.69), f(0.42)];
      const x0 = (i: number) => (kind === 0 ? f(x[i] - f(sigma * m[i])) : kind === 1 ? f(f(m[i] * vIn) + f(x[i] / vSkip)) : m[i]);
      const stepped = (i: number) => f(x[i] + f(f(f(x[i] - x0(i)) / sigma) * dt));
      for (const withNoise of [0, 1]) {
        const [s, x0s] = run([x, m, noise], [0, 3], (k, at) => k.run.euler(kind, at[0], at[1], k.at(3), at[2], withNoise, k.count, sigma, dt, vIn, vSkip, up));
        expectBits(x0s, x0, 'x0');
        expectBits(s, (i) => (withNoise ? stepped(i) + f(noise[i] * up) : stepped(i)), 'sample');
      }
    });

    it(`ddim and lcm, prediction ${kind}, clipped and not`, () => {
      const [a, b, aPrev, bPrev, skip, out] = [f(0.3), f(0.95), f(0.6), f(0.8), f(0.07), f(0.99)];
      for (const clip of [Infinity, 1]) {
        const x0 = (i: number) => {
          const raw = kind === 0 ? f(f(x[i] - f(b * m[i])) / a) : kind === 1 ? f(f(a * x[i]) - f(b * m[i])) : m[i];
          return Math.min(clip, Math.max(-clip, raw));
        };
        const eps = (i: number) => (kind === 0 ? m[i] : kind === 1 ? f(f(a * m[i]) + f(b * x[i])) : f(f(x[i] - f(a * m[i])) / b));
        const [s, x0s] = run([x, m], [0, 2], (k, at) => k.run.ddim(kind, at[0], at[1], k.at(2), k.count, a, b, aPrev, bPrev, clip));
        expectBits(x0s, x0, 'ddim x0');
        expectBits(s, (i) => f(aPrev * x0(i)) + f(bPrev * eps(i)), 'ddim sample');
        const d = (i: number) => f(f(out * x0(i)) + f(skip * x[i]));
        for (const withNoise of [0, 1]) {
          const [ls, denoised] = run([x, m, noise], [0, 3], (k, at) => k.run.lcm(kind, at[0], at[1], k.at(3), at[2], withNoise, k.count, a, b, aPrev, bPrev, skip, out, clip));
          expectBits(denoised, d, 'lcm denoised');
          expectBits(ls, (i) => (withNoise ? f(aPrev * d(i)) + f(bPrev * noise[i]) : d(i)), 'lcm sample');
        }
      }
    });
  }

  it('pndm: accumulation from zero and from an accumulator, every multistep order, formula (9) for epsilon and v', () => {
    const w = f(1 / 3);
    const [fromZero] = run([x, m], [2], (k, at) => k.run.accumulate(0, 0, at[1], k.at(2), k.count, w));
    expectBits(fromZero, (i) => 0 + f(w * m[i]), 'from zero');
    const [onto] = run([x, m], [2], (k, at) => k.run.accumulate(at[0], 1, at[1], k.at(2), k.count, w));
    expectBits(onto, (i) => x[i] + f(w * m[i]), 'onto x');
    const formulas = [
      (i: number) => f(e[0][i] + e[1][i]) / 2,
      (i: number) => f(f(3 * e[1][i]) - e[0][i]) / 2,
      (i: number) => f(f(f(23 * e[2][i]) - f(16 * e[1][i])) + f(5 * e[0][i])) / 12,
      (i: number) => f(1 / 24) * f(f(f(f(55 * e[3][i]) - f(59 * e[2][i])) + f(37 * e[1][i])) - f(9 * e[0][i])),
    ];
    formulas.forEach((formula, o) => {
      const [combined] = run(e, [4], (k, at) => k.run.plms(o + 1, at[0], at[1], at[2], at[3], k.at(4), k.count));
      expectBits(combined, formula, `order ${o + 1}`);
    });
    const [sc, diff, denom, a, b] = [f(1.02), f(0.013), f(0.71), f(0.4), f(0.92)];
    for (const v of [0, 1]) {
      const [out] = run([x, m], [2], (k, at) => k.run.pndmPrev(v, at[0], at[1], k.at(2), k.count, sc, diff, denom, a, b));
      const eps = (i: number) => (v ? f(f(a * m[i]) + f(b * x[i])) : m[i]);
      expectBits(out, (i) => f(sc * x[i]) - f(f(diff * eps(i)) / denom), `v ${v}`);
    }
  });

  it('dpm-solver++: x0 for epsilon and v, first order, second order midpoint and heun', () => {
    const [alpha, sigmaT] = [f(0.27), f(0.96)];
    for (const kind of [0, 1]) {
      const [x0] = run([x, m], [2], (k, at) => k.run.dpmX0(kind, at[0], at[1], k.at(2), k.count, alpha, sigmaT));
      expectBits(x0, (i) => (kind === 0 ? f(x[i] - f(sigmaT * m[i])) / alpha : f(alpha * x[i]) - f(sigmaT * m[i])), `x0 ${kind}`);
    }
    const [sc, d0, d1, inv] = [f(0.83), f(-0.31), f(-0.12), f(1.7)];
    const [first] = run([x, m], [0], (k, at) => k.run.dpmUpdate(0, 0, at[0], at[1], 0, k.count, sc, d0, 0, 0));
    expectBits(first, (i) => f(sc * x[i]) - f(d0 * m[i]), 'first order');
    for (const plus of [0, 1]) {
      const [second] = run([x, m, noise], [0], (k, at) => k.run.dpmUpdate(1, plus, at[0], at[1], at[2], k.count, sc, d0, d1, inv));
      const y = (i: number) => f(f(sc * x[i]) - f(d0 * m[i]));
      const d = (i: number) => f(d1 * f(inv * f(m[i] - noise[i])));
      expectBits(second, (i) => (plus ? y(i) + d(i) : y(i) - d(i)), plus ? 'heun' : 'midpoint');
    }
  });
});
