/** commands/summary.ts: the one-line descriptions of a queued job and of a finished result. */
import { describe, expect, it } from 'vitest';
import { describeParams, describeResult } from '../../commands/summary.ts';
import type { GenerationParams } from '../../src/jobs.ts';

const params = { prompt: 'a cat', seed: 7, steps: 20, guidance: 7, width: 64, height: 64, n: 4, sampler: 'euler_a', model: 'tiny' } as GenerationParams;
const image = (seed: number, size: number) => ({ seed, width: size, height: size });

describe('describeParams', () => {
  it('says what a job will make, with its one seed', () => {
    expect(describeParams(params)).toBe('64x64 · 4 images · seed 7 · 20 steps · euler_a · cfg 7 · tiny');
  });
});

describe('describeResult', () => {
  it('names every seed once, and only once', () => {
    const text = describeResult(params, [image(7, 64), image(8, 64), image(9, 64), image(10, 64)]);
    expect(text).toBe('64x64 · 4 images · seeds 7, 8, 9, 10 · 20 steps · euler_a · cfg 7 · tiny');
    expect(text.match(/seed/g)).toHaveLength(1);
  });

  it('gives the size of the images the result holds: an upscale of a 64x64 image is 128x128', () => {
    expect(describeResult(params, [image(9, 128)])).toBe('128x128 · 1 image · seed 9 · 20 steps · euler_a · cfg 7 · tiny');
  });
});
