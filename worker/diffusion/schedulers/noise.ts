import type { StepOptions } from './types.ts';

/**
 * The noise an ancestral step injects: the caller's own (a batch gets each image's noise
 * from that image's seed) or a draw from its seeded generator. Never Math.random, so a
 * seed always reproduces the same image.
 */
export function stepNoise(length: number, opts: StepOptions | undefined, who: string): Float32Array {
  if (opts?.noise) {
    if (opts.noise.length !== length) {
      throw new Error(`${who}.step: opts.noise has ${opts.noise.length} values, the sample has ${length}`);
    }
    return opts.noise;
  }
  if (opts?.generator) return opts.generator.normal(length);
  throw new Error(
    `${who}.step injects random noise: pass opts.noise (a Float32Array of ${length} values) or opts.generator (a seeded generator)`,
  );
}
