/**
 * What the pipeline must do for a job payload:
 *   txt2img                   -> generate (img2img from the uploaded init image when there is one)
 *   variation, strong         -> generate from the source result's image at `strength`
 *   variation, subtle         -> generate with the source's seed, noise slerped toward `blendSeed`
 *   upscale                   -> upscale the source result's image (hires fix or upscaler model)
 *   edit (zoom, pan, region)  -> masked generation over the source result's image (edit-layout.ts)
 * Source images are read from the artifact store through the stored result, so buttons work
 * as long as the result has not expired, on any worker.
 *
 * Every input image is checked here, before the pipeline sees it: a key that is not an
 * artifact key, a file the store cannot read for good, or bytes that do not decode as a whole
 * image fail the job once (UnusableInputError), never as a retryable pipeline error.
 */
import sharp from 'sharp';
import { ARTIFACT_KEY_PATTERN } from '../src/artifact-key.ts';
import type { ArtifactStore } from '../src/artifacts.ts';
import { describeEdit, InvalidJobError, type JobPayload, type JobResult, type SourceImage } from '../src/jobs.ts';
import { MAX_SIDE, upscaleViolation } from '../src/job-limits.ts';
import type { ResultStore } from '../src/results.ts';
import type { GenerateRequest, UpscaleRequest } from './diffusion/index.ts';
import { batchKey } from './diffusion/request.ts';
import { SourceUnavailableError, UnusableInputError } from './errors.ts';
import { regionCanvas, zoomOrPanCanvas } from './edit-layout.ts';

export type JobPlan =
  | { kind: 'generate'; model: string; request: GenerateRequest; batchKey: string; images: number }
  | { kind: 'upscale'; model: string; request: UpscaleRequest; images: 1 };

/**
 * Zoom Out and Pan start their new area from the source's repeated edge noised to this level
 * rather than from pure noise: the border continues the scene (measured on the embedded model:
 * pans draw a background strip on 6 of 8 seeds at 0.8, 4 of 8 at 1). Vary (Region) repaints
 * from pure noise.
 */
export const OUTPAINT_STRENGTH = 0.8;

const EXPIRED = 'The image this was made from has expired or was deleted, so it cannot be used any more. Run /imagine again.';

/** What the user is told when an input image is gone, or there but unusable. */
interface InputWords {
  missing: string;
  unusable: string;
}
const UPLOADED: InputWords = {
  missing: 'The uploaded image has expired. Attach it again.',
  unusable: 'The attached image could not be read as an image, so it cannot be used. Attach another image.',
};
const MASK: InputWords = {
  missing: 'The region drawn for this edit has expired. Draw it again.',
  unusable: 'The region drawn for this edit could not be read as an image. Draw it again.',
};
const SOURCE: InputWords = { missing: EXPIRED, unusable: 'The image this was made from could not be read, so it cannot be used. Run /imagine again.' };

/** Read failures that another attempt would meet again (anything else, e.g. EMFILE or EIO, may pass and is retried). */
const LASTING_READ_ERRORS = new Set(['EISDIR', 'ENOTDIR', 'EACCES', 'EPERM', 'ELOOP', 'ENAMETOOLONG']);

interface InputImage {
  image: Buffer;
  width: number;
  height: number;
}

/** An input image's bytes, once they are known to decode as a whole image of at most MAX_SIDE² pixels. */
async function readInputImage(artifacts: ArtifactStore, key: string, words: InputWords): Promise<InputImage> {
  if (!ARTIFACT_KEY_PATTERN.test(key)) throw new UnusableInputError(words.unusable, `invalid artifact key ${JSON.stringify(key.slice(0, 120))}`);
  let image: Buffer | null;
  try {
    image = await artifacts.get(key);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && LASTING_READ_ERRORS.has(code)) throw new UnusableInputError(words.unusable, `artifact ${key} cannot be read (${code})`);
    throw err;
  }
  if (!image) throw new SourceUnavailableError(words.missing, `artifact ${key} missing`);
  try {
    const input = sharp(image, { limitInputPixels: MAX_SIDE * MAX_SIDE });
    const { width, height } = await input.metadata();
    // stats() decodes every pixel, so a truncated or corrupt file fails here rather than in the pipeline.
    await input.stats();
    return { image, width, height };
  } catch (err) {
    throw new UnusableInputError(words.unusable, `artifact ${key} does not decode as an image: ${(err as Error).message}`);
  }
}

async function sourceImage(source: SourceImage, results: ResultStore, artifacts: ArtifactStore): Promise<InputImage> {
  const result = await results.get(source.resultId);
  if (!result) throw new SourceUnavailableError(EXPIRED, `result ${source.resultId} not found`);
  const entry = result.images[source.index];
  if (!entry) throw new SourceUnavailableError(EXPIRED, `result ${source.resultId} has no image ${source.index}`);
  return readInputImage(artifacts, entry.artifact.key, SOURCE);
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
        const { image } = await readInputImage(artifacts, payload.initImage.artifactKey, UPLOADED);
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
    case 'edit': {
      const source = await sourceImage(payload.source, results, artifacts);
      const { edit } = payload;
      const canvas =
        edit.type === 'region'
          ? await regionCanvas(source.image, (await readInputImage(artifacts, edit.maskArtifactKey, MASK)).image, p.width, p.height)
          : await zoomOrPanCanvas(edit, source.image, source, p.width, p.height);
      const strength = edit.type === 'region' ? 1 : OUTPAINT_STRENGTH;
      request = { ...base, inpaint: { ...canvas, strength, label: describeEdit(edit) } };
      break;
    }
    case 'upscale': {
      const { image, width, height } = await sourceImage(payload.source, results, artifacts);
      // The job's parameters passed the limits; the image itself must too (the commands check its stored size).
      const tooLarge = upscaleViolation(width, height, payload.factor);
      if (tooLarge) throw new InvalidJobError(tooLarge.message, tooLarge.detail);
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
