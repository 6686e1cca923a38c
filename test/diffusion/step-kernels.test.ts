/**
 * The WebAssembly step kernels behind StepInput give exactly the bits of the scalar
 * conversions (float16.ts) and of float64 arithmetic rounded once, for every half bit pattern,
 * every class of float (zero, subnormal, overflow, Inf, NaN, rounding ties), tails that are not
 * a multiple of four, and both CFG halves; and the committed .wasm is what its source assembles to.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { StepInput } from '../../worker/diffusion/step-tensors.ts';
import { halfValue, toHalfBits } from '../../worker/diffusion/float16.ts';
import { assembleWat, KERNEL_SOURCES } from '../../kit/build-wasm-kernels.ts';

/** Latent-like values with every awkward float among them. */
function awkwardValues(count: number): Float32Array {
  const special = [0, -0, 1, -1, 2 ** -14, 2 ** -15, -(2 ** -24), 2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11, 65504, 65519, 65520, -70000, Infinity, -Infinity, NaN, 1e-30, -1e-8];
  const values = new Float32Array(count);
  let seed = 12345;
  for (let i = 0; i < count; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    values[i] = i % 7 === 3 ? special[(i / 7) % special.length | 0] : (seed / 2 ** 32 - 0.5) * 8;
  }
  return values;
}

const sameValue = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function expectSameFloats(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const wrong: string[] = [];
  for (let k = 0; k < actual.length && wrong.length < 5; k++) if (!sameValue(actual[k], Math.fround(expected[k]))) wrong.push(`${k}: ${actual[k]} != ${expected[k]}`);
  expect(wrong, what).toEqual([]);
}

describe('step kernels', () => {
  it('the committed step-kernels.wasm is what step-kernels.wat assembles to', async () => {
    for (const source of KERNEL_SOURCES) {
      const committed = fs.readFileSync(new URL(`../../${source.replace(/\.wat$/, '.wasm')}`, import.meta.url));
      expect(Buffer.from(await assembleWat(source)).equals(committed), `${source}: run npm run build:kernels`).toBe(true);
    }
  });

  for (const type of ['float32', 'float16'] as const) {
    it(`${type} input: latents / divisor and unscaled inpainting extras, both CFG halves, odd lengths`, () => {
      // an inpainting UNet at a 9x5 latent: 4 * 45 latent values and 5 * 45 extras (a tail of 1)
      const items = 3;
      const plane = 45;
      const latents = Array.from({ length: items }, (_, i) => awkwardValues(4 * plane + 0).map((v) => v * (i + 1)));
      const extras = Array.from({ length: items }, (_, i) => awkwardValues(5 * plane).map((v) => v - i));
      // float32 divisors, as every scheduler gives, take the kernels; the last one is not, and takes the scalar loop
      const divisors = [Math.fround(1.7), 1, 14.6146];
      const input = new StepInput('k', type, [2 * items, 9, 5, 9], 'unet');
      input.fill(latents, divisors, true, extras);
      const got = type === 'float32' ? (input.tensor.data as Float32Array) : Float32Array.from(input.tensor.data as Uint16Array, halfValue);
      const expected: number[] = [];
      for (let i = 0; i < items; i++) {
        expected.push(...Array.from(latents[i], (v) => Math.fround(v / divisors[i])), ...extras[i]);
      }
      const asStored = type === 'float32' ? expected : expected.map((v) => halfValue(toHalfBits(v)));
      expectSameFloats(got, [...asStored, ...asStored], `${type} fill`);
      if (type === 'float16') {
        // the bits themselves, so a NaN's and a signed zero's encoding count too
        const bits = input.tensor.data as Uint16Array;
        const want = [...expected, ...expected].map(toHalfBits);
        expect(Array.from(bits).findIndex((b, k) => b !== want[k])).toBe(-1);
      }
    });
  }

  it('float16 input: the bits of toHalfBits for random float32 bit patterns across every exponent', () => {
    const count = 1 << 18;
    const bits = new Uint32Array(count);
    let seed = 99;
    for (let i = 0; i < count; i++) bits[i] = seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const values = new Float32Array(bits.buffer);
    const input = new StepInput('k', 'float16', [1, 1, 1, count], 'unet');
    input.fill([values], [1], false);
    const got = input.tensor.data as Uint16Array;
    const wrong = Array.from(values).map((v, k) => [k, got[k], toHalfBits(v)]).filter(([, a, b]) => a !== b);
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('float16 predictions: every half bit pattern decoded, and guided in float64 rounded once', () => {
    const per = 65536 + 2; // every pattern, and a tail of 2
    const uncond = new Uint16Array(per);
    const cond = new Uint16Array(per);
    for (let k = 0; k < per; k++) {
      uncond[k] = k & 0xffff;
      cond[k] = (k * 40503 + 7) & 0xffff;
    }
    const out = new ort.Tensor('float16', Uint16Array.from([...uncond, ...cond]) as unknown as Float32Array, [2, 1, 1, per]);
    const input = new StepInput('k', 'float16', [2, 1, 1, per], 'unet');
    const guided = input.predictions(out, 1, per, true).eps(0, 7.3, new Float32Array(per));
    expectSameFloats(guided, Array.from(uncond, (u, k) => halfValue(u) + 7.3 * (halfValue(cond[k]) - halfValue(u))), 'guided');
    const plain = new ort.Tensor('float16', uncond as unknown as Float32Array, [1, 1, 1, per]);
    const decoded = new StepInput('k', 'float16', [1, 1, 1, per], 'unet').predictions(plain, 1, per, false).eps(0, undefined, new Float32Array(per));
    expectSameFloats(decoded, Array.from(uncond, halfValue), 'decoded');
  });

  it('float32 predictions: each item guided from its own halves, in float64 rounded once', () => {
    const per = 4 * 45 + 3;
    const items = 2;
    const all = awkwardValues(2 * items * per);
    const out = new ort.Tensor('float32', all, [2 * items, 1, 1, per]);
    const predictions = new StepInput('k', 'float32', [2 * items, 1, 1, per], 'unet').predictions(out, items, per, true);
    for (let i = 0; i < items; i++) {
      const into = new Float32Array(per);
      expect(predictions.eps(i, 7.5, into)).toBe(into);
      const u0 = i * per;
      const c0 = (items + i) * per;
      expectSameFloats(into, Array.from({ length: per }, (_, k) => all[u0 + k] + 7.5 * (all[c0 + k] - all[u0 + k])), `item ${i}`);
    }
  });
});
