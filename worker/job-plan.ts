/**
 * What the pipeline must do for a job payload:
 *   txt2img                   -> generate (img2img from the uploaded init image when there is one)
 *   variation, strong         -> generate from the source result's image at `strength`
 *   variation, subtle         -> generate with the source's seed, noise slerped toward `blendSeed`
 *   upscale                   -> upscale the source result's image (hires fix or upscaler model)
 * Source images are read from the artifact store through the stored result, so buttons work
 * as long as the result has not expired, on any worker.
 */
import type { ArtifactStore } from '../src/artifacts.ts';
import type { JobPayload, JobResult, SourceImage } from '../src/jobs.ts';
import type { ResultStore } from '../src/results.ts';
import type { GenerateRequest, UpscaleRequest } from './diffusion/index.ts';
import { batchKey } from './diffusion/request.ts';
import { SourceUnavailableError } from './errors.ts';

export type JobPlan =
  | { kind: 'generate'; model: string; request: GenerateRequest; batchKey: string; images: number }
  | { kind: 'upscale'; model: string; request: UpscaleRequest; images: 1 };

const EXPIRED = 'The image this was made from has expired or was deleted, so it cannot be used any more. Run /imagine again.';

async function sourceImage(source: SourceImage, results: ResultStore, artifacts: ArtifactStore): Promise<{ image: Buffer; result: JobResult }> {
  const result = await results.get(source.resultId);
  if (!result) throw new SourceUnavailableError(EXPIRED, `result ${source.resultId} not found`);
  const entry = result.images[source.index];
  if (!entry) throw new SourceUnavailableError(EXPIRED, `result ${source.resultId} has no image ${source.index}`);
  const image = await artifacts.get(entry.artifact.key);
  if (!image) throw new SourceUnavailableError(EXPIRED, `artifact ${entry.artifact.key} missing`);
  return { image, result };
}

/**
 * Requests that may share one pipeline call: same model plus everything the pipeline needs
 * equal (size, steps, sampler, CFG on/off, txt2img or img2img at one strength). CFG is "on"
 * for guidance above 1; the pipeline may still turn it off for LCM models, which only makes
 * both requests agree.
 */
export function compatibilityKey(model: string, request: GenerateRequest): string {
  return `${model} | ${batchKey(request, request.guidance > 1)}`;
}

export async function planJob(payload: JobPayload, results: ResultStore, artifacts: ArtifactStore): Promise<JobPlan> {
  const p = payload.params;
  const base: GenerateRequest = {
    prompt: p.prompt,
    negativePrompt: p.negativePrompt || undefined,
    seed: p.seed,
    steps: p.steps,
    guidance: p.guidance,
    width: p.width,
    height: p.height,
    n: p.n,
    sampler: p.sampler,
    modelLabel: p.model,
  };
  let request: GenerateRequest;
  switch (payload.kind) {
    case 'txt2img': {
      if (payload.initImage) {
        const image = await artifacts.get(payload.initImage.artifactKey);
        if (!image) throw new SourceUnavailableError('The uploaded image has expired. Attach it again.', `artifact ${payload.initImage.artifactKey} missing`);
        request = { ...base, init: { image, strength: payload.initImage.strength } };
      } else {
        request = base;
      }
      break;
    }
    case 'variation': {
      if (payload.mode === 'strong') {
        const { image } = await sourceImage(payload.source, results, artifacts);
        request = { ...base, init: { image, strength: payload.strength } };
      } else {
        // Subtle: no init image (so it does not need the source's bytes, only its seed, already in params).
        request = payload.blendSeed !== undefined ? { ...base, noiseBlend: { seed: payload.blendSeed, amount: payload.blendAmount ?? 0.25 } } : base;
      }
      break;
    }
    case 'upscale': {
      const { image } = await sourceImage(payload.source, results, artifacts);
      return {
        kind: 'upscale',
        model: p.model,
        images: 1,
        request: {
          image,
          factor: payload.factor,
          prompt: p.prompt,
          negativePrompt: p.negativePrompt || undefined,
          seed: p.seed,
          steps: p.steps,
          guidance: p.guidance,
          sampler: p.sampler,
          modelLabel: p.model,
        },
      };
    }
  }
  return { kind: 'generate', model: p.model, request, batchKey: compatibilityKey(p.model, request), images: request.n };
}
