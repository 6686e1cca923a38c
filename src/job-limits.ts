/**
 * What this deployment lets a job ask for, checked where a job is made (commands/) and again
 * where it runs (worker/), with this one function and the same words:
 *   - the configured maxima: MAX_STEPS, MAX_N, ALLOWED_SAMPLERS;
 *   - the model's size rule: sides at least MIN_SIDE and multiples of its sizeMultiple, and at
 *     most MAX_AREA_FACTOR × baseSize² pixels (the rule commands/aspect.ts snaps sizes to);
 *   - an upscale's output sides at most MAX_SIDE.
 * The job schema (jobs.ts) only bounds what any worker could attempt; a payload written by
 * another producer (or straight into Redis) must also pass this before the pipeline runs.
 */
import type { Config } from './config.ts';
import { SAMPLERS } from './samplers.ts';
import type { JobPayload } from './jobs.ts';
import type { ModelInfo } from './models.ts';

export type Sampler = (typeof SAMPLERS)[number];

export interface JobLimits {
  maxSteps: number;
  maxN: number;
  allowedSamplers: readonly Sampler[];
}

export function jobLimitsFromConfig(config: Pick<Config, 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS'>): JobLimits {
  return {
    maxSteps: config.MAX_STEPS,
    maxN: config.MAX_N,
    // An empty list means "no restriction", so a fresh install offers every sampler.
    allowedSamplers: config.ALLOWED_SAMPLERS.length > 0 ? [...config.ALLOWED_SAMPLERS] : [...SAMPLERS],
  };
}

export const MIN_SIDE = 32;
/** The largest side any job may produce (an upscale's output included). */
export const MAX_SIDE = 4096;
/** How far past the model's square pixel budget a non-square size may go. */
export const MAX_AREA_FACTOR = 1.5;

export type ModelSize = Pick<ModelInfo, 'name' | 'baseSize' | 'sizeMultiple'>;

export function maxPixels(model: Pick<ModelInfo, 'baseSize'>): number {
  return Math.floor(MAX_AREA_FACTOR * model.baseSize * model.baseSize);
}

export interface LimitViolation {
  /** Safe to show the user. */
  message: string;
  /** For logs. */
  detail: string;
}

const violation = (message: string, detail: string): LimitViolation => ({ message, detail });

/** Why a job asks for more than the limits allow, or null when it fits. */
export function jobLimitViolation(payload: JobPayload, limits: JobLimits, model: ModelSize): LimitViolation | null {
  const { steps, n, sampler, width, height } = payload.params;
  if (steps > limits.maxSteps) {
    return violation(`This request asks for ${steps} steps; the most allowed here is ${limits.maxSteps}.`, `steps ${steps} > MAX_STEPS ${limits.maxSteps}`);
  }
  if (n > limits.maxN) {
    return violation(`This request asks for ${n} images; the most allowed here is ${limits.maxN}.`, `n ${n} > MAX_N ${limits.maxN}`);
  }
  if (!limits.allowedSamplers.includes(sampler)) {
    return violation(`The sampler ${sampler} is not enabled here (enabled: ${limits.allowedSamplers.join(', ')}).`, `sampler ${sampler} not in ALLOWED_SAMPLERS`);
  }
  const m = model.sizeMultiple;
  if (width < MIN_SIDE || height < MIN_SIDE || width % m !== 0 || height % m !== 0) {
    return violation(
      `The size ${width}x${height} does not suit the model ${model.name}: sides must be multiples of ${m} px, at least ${MIN_SIDE} px.`,
      `size ${width}x${height} not a multiple of ${m}`,
    );
  }
  const budget = maxPixels(model);
  if (width * height > budget) {
    return violation(
      `The size ${width}x${height} is larger than the model ${model.name} draws (at most ${budget} pixels, e.g. ${model.baseSize}x${model.baseSize}).`,
      `size ${width}x${height} > ${budget} pixels`,
    );
  }
  if (payload.kind === 'upscale') return upscaleViolation(width, height, payload.factor);
  return null;
}

/** Why an image of this size cannot be upscaled by `factor`, or null. */
export function upscaleViolation(width: number, height: number, factor: number): LimitViolation | null {
  if (Math.max(width, height) * factor <= MAX_SIDE) return null;
  return violation(
    `This image (${width}x${height}) is too large to upscale ×${factor} (sides are limited to ${MAX_SIDE} px).`,
    `upscale of ${width}x${height} ×${factor} > ${MAX_SIDE} px`,
  );
}
