/**
 * Generation requests: their types, the checks that run before any work, and which
 * requests can share one UNet batch.
 */
import { imageSeed } from '../../src/image-seed.ts';
import { STEPS_CEILING } from '../../src/jobs.ts';
import { isSchedulerName, type SchedulerName } from './schedulers/index.ts';
import { checkSeed } from './noise.ts';

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string;
  seed: number;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  /** images; image i uses seed + i (src/image-seed.ts) */
  n: number;
  sampler: SchedulerName;
  /** img2img: the image is resized (centre-cropped) to width x height */
  init?: { image: Buffer; strength: number };
  /**
   * masked generation (zoom out, pan, region): `mask` (width x height, white = generate) says
   * where to draw; everywhere else follows `image` (resized to width x height) and is kept
   * exactly, blended over a feathered edge. `label` (e.g. "Zoom out 2x") goes into the PNG
   * parameters as `Edit:`. `strength` (default 1) below 1 starts the drawn area from `image`
   * noised to that level instead of from pure noise, as img2img does (an outpainted border
   * starts from the source's repeated edge, which keeps the scene going rather than redrawing it).
   */
  inpaint?: { image: Buffer; mask: Buffer; strength?: number; label?: string };
  /** subtle variation: slerp(noise(seed + i), noise(noiseBlend.seed + i), amount) */
  noiseBlend?: { seed: number; amount: number };
  /** shown as `Model:` in the PNG parameters instead of the folder name */
  modelLabel?: string;
}

export interface ProgressInfo {
  /** 1-based, counted over every batch the request's images run in */
  step: number;
  total: number;
  elapsedMs: number;
  stepMs: number;
  /**
   * cheap latent -> RGB preview PNG of the request's first image in this batch (no VAE), of
   * the latent as it is when called: called during this callback, this step's; later, a
   * newer one (the loop steps latents in place rather than copy them every step)
   */
  preview: () => Promise<Buffer>;
}

export interface GenerateOptions {
  onProgress?: (p: ProgressInfo) => void;
  signal?: AbortSignal;
}

export interface GenerateTimings {
  totalMs: number;
  textEncodeMs: number;
  unetMs: number;
  vaeMs: number;
  /** sum of every session.run() in the call */
  ortRunMs: number;
  /** the UNet's share of ortRunMs: unetMs minus this is the denoising loop's own (JS) time (set by the pipeline; optional so hand-made results need not invent it) */
  unetRunMs?: number;
  steps: number;
  /** most images denoised together in one UNet batch (the UNet sees twice that with CFG) */
  batchSize: number;
}

/**
 * A request whose device work is done (denoised, decoded, safety-checked): its PNGs and grid
 * are still being encoded on libvips' threads, off the critical path of the next UNet call.
 * `result` resolves to exactly what generate() returns.
 */
export interface PendingResult {
  result: Promise<GenerateResult>;
}

export interface GenerateResult {
  /** `nsfw`: the safety checker's verdict, present when the model folder has a checker */
  images: { png: Buffer; seed: number; width: number; height: number; nsfw?: boolean }[];
  /** all images in one PNG when n > 1 */
  grid?: Buffer;
  timings: GenerateTimings;
  model: string;
  sampler: string;
  provider: string;
}

export interface UpscaleRequest {
  image: Buffer;
  factor: 2 | 4;
  prompt: string;
  negativePrompt?: string;
  seed: number;
  steps: number;
  guidance: number;
  sampler: SchedulerName;
  /** img2img strength of the hires-fix pass (default 0.3) */
  strength?: number;
  modelLabel?: string;
}

export const MAX_IMAGES = 16;
export const MAX_SIDE = 4096;

export interface RequestLimits {
  /** image pixels per latent pixel: sizes must be multiples of it */
  vaeScale: number;
  canEncode: boolean;
  /** the UNet is an inpainting UNet: it only runs masked requests */
  inpaintingUnet?: boolean;
  /** the only size the model (static export) or the deployment (fixedSize) allows */
  onlySize?: { width: number; height: number; why: string };
}

/** Throws a user-readable Error for the first thing wrong with `req`. */
export function validateRequest(req: GenerateRequest, limits: RequestLimits): void {
  if (typeof req.prompt !== 'string') throw new Error('prompt must be a string');
  if (req.negativePrompt !== undefined && typeof req.negativePrompt !== 'string') throw new Error('negativePrompt must be a string');
  if (!isSchedulerName(req.sampler)) throw new Error(`unknown sampler ${JSON.stringify(req.sampler)}`);
  if (!Number.isInteger(req.steps) || req.steps < 1 || req.steps > STEPS_CEILING) throw new Error(`steps must be an integer in 1..${STEPS_CEILING}, got ${req.steps}`);
  if (!Number.isFinite(req.guidance) || req.guidance < 0) throw new Error(`guidance must be a finite number >= 0, got ${req.guidance}`);
  if (!Number.isInteger(req.n) || req.n < 1 || req.n > MAX_IMAGES) throw new Error(`n must be an integer in 1..${MAX_IMAGES}, got ${req.n}`);
  for (const [name, v] of [
    ['width', req.width],
    ['height', req.height],
  ] as const) {
    if (!Number.isInteger(v) || v < limits.vaeScale || v > MAX_SIDE || v % limits.vaeScale !== 0) {
      throw new Error(`${name} must be a multiple of ${limits.vaeScale} in ${limits.vaeScale}..${MAX_SIDE}, got ${v}`);
    }
  }
  const only = limits.onlySize;
  if (only && (req.width !== only.width || req.height !== only.height)) {
    throw new Error(`size ${req.width}x${req.height} is not available: ${only.why} generates ${only.width}x${only.height} only`);
  }
  checkSeed(req.seed);
  checkSeed(imageSeed(req.seed, req.n - 1), 'seed + n - 1');
  if (req.init) {
    if (!limits.canEncode) throw new Error('img2img needs vae_encoder/model.onnx, which this model folder lacks');
    if (!Buffer.isBuffer(req.init.image) || req.init.image.length === 0) throw new Error('init.image must be a non-empty image Buffer');
    if (!(req.init.strength > 0 && req.init.strength <= 1)) throw new Error(`init.strength must be in (0, 1], got ${req.init.strength}`);
    if (Math.trunc(req.steps * req.init.strength) < 1) {
      throw new Error(`img2img with strength ${req.init.strength} and ${req.steps} steps runs no step; raise steps or strength`);
    }
  }
  if (req.inpaint) {
    if (!limits.canEncode) throw new Error('masked generation needs vae_encoder/model.onnx, which this model folder lacks');
    if (req.init || req.noiseBlend) throw new Error('a masked request takes neither init nor noiseBlend: its image is inpaint.image');
    for (const key of ['image', 'mask'] as const) {
      if (!Buffer.isBuffer(req.inpaint[key]) || req.inpaint[key].length === 0) throw new Error(`inpaint.${key} must be a non-empty image Buffer`);
    }
    const strength = req.inpaint.strength ?? 1;
    if (!(strength > 0 && strength <= 1)) throw new Error(`inpaint.strength must be in (0, 1], got ${strength}`);
    if (Math.trunc(req.steps * strength) < 1) throw new Error(`masked generation with strength ${strength} and ${req.steps} steps runs no step; raise steps or strength`);
  } else if (limits.inpaintingUnet) {
    throw new Error('this model is an inpainting model (its UNet reads a mask and a masked image: 9 input channels for SD) and only runs masked edits (zoom out, pan, vary region), not plain generation');
  }
  if (req.noiseBlend) {
    checkSeed(req.noiseBlend.seed, 'noiseBlend.seed');
    checkSeed(imageSeed(req.noiseBlend.seed, req.n - 1), 'noiseBlend.seed + n - 1');
    if (!(req.noiseBlend.amount >= 0 && req.noiseBlend.amount <= 1)) throw new Error(`noiseBlend.amount must be in [0, 1], got ${req.noiseBlend.amount}`);
  }
}

/** What requests must share to run as one UNet batch (one schedule, one tensor shape). */
export function batchKey(req: GenerateRequest, usesCfg: boolean): string {
  return [
    `size ${req.width}x${req.height}`,
    `steps ${req.steps}`,
    `sampler ${req.sampler}`,
    `cfg ${usesCfg ? 'on' : 'off'}`,
    req.init ? `img2img strength ${req.init.strength}` : req.inpaint ? `masked strength ${req.inpaint.strength ?? 1}` : 'txt2img',
  ].join(', ');
}
