/** One-line descriptions of what a job will make, for the "queued" reply. */
import type { GenerationParams } from '../src/jobs.ts';

export function describeParams(p: GenerationParams): string {
  const images = p.n === 1 ? '1 image' : `${p.n} images`;
  return `${p.width}x${p.height} · ${images} · seed ${p.seed} · ${p.steps} steps · ${p.sampler} · cfg ${p.guidance} · ${p.model}`;
}
