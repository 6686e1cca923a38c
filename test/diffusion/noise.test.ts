/** Noise slerp: 0 is the first noise, 1 the second, and in between keeps the norm. */
import { describe, expect, it } from 'vitest';
import { imageNoise, slerp } from '../../worker/diffusion/noise.ts';
import { seededNoise } from '../../worker/diffusion/random.ts';

describe('noise', () => {
  it('slerp: 0 is the first noise, 1 the second, and in between keeps the norm', () => {
    const a = seededNoise(1, 4096);
    const b = seededNoise(2, 4096);
    expect(slerp(a, b, 0)).toEqual(a);
    const one = slerp(a, b, 1);
    for (let i = 0; i < 10; i++) expect(one[i]).toBeCloseTo(b[i], 4);
    const norm = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
    expect(norm(slerp(a, b, 0.5)) / norm(a)).toBeCloseTo(1, 1);
    expect(imageNoise(1, 4096)).toEqual(a);
    expect(imageNoise(1, 4096, { seed: 2, amount: 0.25 })).toEqual(slerp(a, b, 0.25));
  });
});
