/** One-line descriptions of what a job will make (the "queued" reply) and of what a result holds. */
import type { GenerationParams } from '../src/jobs.ts';

type Settings = Pick<GenerationParams, 'steps' | 'sampler' | 'guidance' | 'model'>;

function line(size: { width: number; height: number }, count: number, seedText: string, p: Settings): string {
  const images = count === 1 ? '1 image' : `${count} images`;
  return `${size.width}x${size.height} · ${images} · ${seedText} · ${p.steps} steps · ${p.sampler} · cfg ${p.guidance} · ${p.model}`;
}

export function describeParams(p: GenerationParams): string {
  return line(p, p.n, `seed ${p.seed}`, p);
}

/**
 * A finished result: the size of the images it holds (an upscale's are larger than the
 * parameters it was made from) and each image's seed, named once.
 */
export function describeResult(params: Settings, images: readonly { seed: number; width: number; height: number }[]): string {
  const seeds = images.map((i) => i.seed);
  return line(images[0], images.length, `${seeds.length === 1 ? 'seed' : 'seeds'} ${seeds.join(', ')}`, params);
}
