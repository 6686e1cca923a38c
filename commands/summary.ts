/** One-line descriptions of what a job will make (the "queued" reply) and of what a result holds. */
import type { GenerationParams } from '../src/jobs.ts';

type Settings = Pick<GenerationParams, 'steps' | 'sampler' | 'guidance' | 'model'>;

function line(size: { width: number; height: number }, count: number, seedText: string, p: Settings): string {
  const images = count === 1 ? '1 image' : `${count} images`;
  return `${size.width}x${size.height} · ${images} · ${seedText} · ${p.steps} steps · ${p.sampler} · cfg ${p.guidance} · ${p.model}`;
}

/** "seed 7", or "seeds 7, 8, 9" with the word once. */
export function seedsText(seeds: readonly number[]): string {
  return `${seeds.length === 1 ? 'seed' : 'seeds'} ${seeds.join(', ')}`;
}

/** The size and seeds a result shows: those of the images it holds, not of the parameters it was made from. */
export interface ShownImages {
  width: number;
  height: number;
  seeds: number[];
}

/**
 * What a finished result's images are. An upscale's are larger than the parameters it was made
 * from (a 64x64 source gives 128x128), so the size comes from the stored images, never the params.
 */
export function shownImages(images: readonly { seed: number; width: number; height: number }[]): ShownImages {
  return { width: images[0].width, height: images[0].height, seeds: images.map((i) => i.seed) };
}

export function describeParams(p: GenerationParams): string {
  return line(p, p.n, seedsText([p.seed]), p);
}

/** A finished result: the size of the images it holds and each image's seed, named once. */
export function describeResult(params: Settings, images: readonly { seed: number; width: number; height: number }[]): string {
  const shown = shownImages(images);
  return line(shown, images.length, seedsText(shown.seeds), params);
}
