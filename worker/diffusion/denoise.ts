/**
 * The denoise stage: each image's schedule and starting latent, then the loop that runs
 * every active image of a batch through one UNet call per step (uncond + cond halves for
 * classifier-free guidance, one half when guidance is off), and the progress reports.
 */
import { imageSeed } from '../../src/image-seed.ts';
import { createScheduler, img2imgTimesteps, type Scheduler } from './schedulers/index.ts';
import type { SeededRandom } from './random.ts';
import { imageNoise, stepGenerator } from './noise.ts';
import { PrefetchedNoise, wakeStepNoiseThread } from './step-noise-prefetch.ts';
import { latentPreviewPng } from './preview.ts';
import type { UNet, UNetBatch } from './unet.ts';
import type { Conditioning, LatentRgb } from './families/types.ts';
import type { GenerateOptions, GenerateRequest } from './request.ts';
import type { Logger } from 'pino';
import { keepKnown, type MaskState } from './masked.ts';

export function abortError(signal: AbortSignal): Error {
  const err = new Error('generation aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** One request's state across the stages. */
export interface Job {
  req: GenerateRequest;
  opts: GenerateOptions;
  usesCfg: boolean;
  /** the conditioned half's UNet inputs, and with CFG the unconditional half's */
  cond?: Conditioning;
  uncond?: Conditioning;
  initLatent?: Float32Array;
  /** a masked request's mask, kept latents and composite weights */
  mask?: MaskState;
  error?: Error;
  pngs: Buffer[];
  /** the safety checker's verdict per image, when the folder has a checker */
  nsfw?: boolean[];
  /** pixels kept for the grid, so it is not decoded back from the PNGs */
  rgbs: Uint8Array[];
  stepsDone: number;
  stepTotal: number;
  startedAt: number;
}

/** One image of a job in a UNet batch: its latent, scheduler and step-noise generator. */
export interface Item {
  job: Job;
  index: number;
  seed: number;
  latent: Float32Array;
  scheduler: Scheduler;
  generator: SeededRandom;
  timesteps: number[];
  /** this image's guided noise prediction, rewritten every step (schedulers keep no reference to it) */
  eps: Float32Array;
  /** masked request, ordinary UNet: the starting noise, which also noises the kept latents each step */
  keptNoise?: Float32Array;
  /** its step noise drawn ahead off the main thread, for samplers that inject noise (else `generator` draws) */
  noise: PrefetchedNoise | null;
}

/** Samplers that inject fresh noise on every step (the others never draw from `generator`). */
const DRAWS_STEP_NOISE = new Set(['euler_a', 'lcm']);

export interface DenoiseContext {
  unet: UNet;
  schedulerConfig: Record<string, unknown>;
  latentRgb: LatentRgb;
  logger?: Logger;
}

export function checkAbort(job: Job): void {
  if (!job.error && job.opts.signal?.aborted) job.error = abortError(job.opts.signal);
}

interface Schedule {
  scheduler: Scheduler;
  timesteps: number[];
  latentTimestep?: number;
}

export function scheduleFor(ctx: DenoiseContext, req: GenerateRequest): Schedule {
  const scheduler = createScheduler(req.sampler, ctx.schedulerConfig);
  const strength = req.init?.strength ?? (req.inpaint?.strength !== undefined && req.inpaint.strength < 1 ? req.inpaint.strength : undefined);
  if (strength !== undefined) {
    const s = img2imgTimesteps(scheduler, req.steps, strength);
    return { scheduler, timesteps: s.timesteps, latentTimestep: s.latentTimestep };
  }
  scheduler.setTimesteps(req.steps);
  return { scheduler, timesteps: scheduler.timesteps };
}

/** Image `index` of `job`: seeded noise, or its init latent noised to the first timestep (img2img). */
export function startItem(ctx: DenoiseContext, job: Job, index: number, latentSize: number): Item {
  const { req } = job;
  const seed = imageSeed(req.seed, index);
  const { scheduler, timesteps, latentTimestep } = scheduleFor(ctx, req);
  const blend = req.noiseBlend ? { seed: imageSeed(req.noiseBlend.seed, index), amount: req.noiseBlend.amount } : undefined;
  const noise = imageNoise(seed, latentSize, blend);
  const keptNoise = job.mask && !ctx.unet.isInpainting ? Float32Array.from(noise) : undefined;
  let latent: Float32Array;
  if (job.initLatent && latentTimestep !== undefined) {
    latent = scheduler.addNoise(job.initLatent, noise, latentTimestep);
  } else {
    latent = noise;
    const sigma = scheduler.initNoiseSigma;
    if (sigma !== 1) for (let i = 0; i < latent.length; i++) latent[i] *= sigma;
  }
  const noiseAhead = DRAWS_STEP_NOISE.has(req.sampler) ? PrefetchedNoise.open(seed, latentSize) : null;
  return { job, index, seed, latent, scheduler, generator: stepGenerator(seed), timesteps, eps: new Float32Array(latentSize), keptNoise, noise: noiseAhead };
}

/** The UNet inputs of the active items: [uncond..., cond...] with CFG, [cond...] without. */
function batchInputs(unet: UNet, active: Item[], cfg: boolean): UNetBatch {
  const cond = active.map((it) => it.job.cond!);
  return unet.prepare(cfg ? [...active.map((it) => it.job.uncond!), ...cond] : cond);
}

/** The denoising loop over one batch; returns how many steps ran. */
export async function denoiseBatch(ctx: DenoiseContext, items: Item[], latentH: number, latentW: number): Promise<number> {
  try {
    return await denoiseSteps(ctx, items, latentH, latentW);
  } finally {
    for (const item of items) item.noise?.stop();
  }
}

async function denoiseSteps(ctx: DenoiseContext, items: Item[], latentH: number, latentW: number): Promise<number> {
  const timesteps = items[0].timesteps;
  const cfg = items[0].job.usesCfg;
  let active: Item[] = [];
  let batch: UNetBatch | undefined;
  let steps = 0;
  for (const [k, t] of timesteps.entries()) {
    for (const item of items) checkAbort(item.job);
    const now = items.filter((it) => !it.job.error);
    if (now.length === 0) break;
    if (now.length !== active.length) {
      // the batch shrinks when a request is cancelled; the others carry on without it
      active = now;
      batch = batchInputs(ctx.unet, active, cfg);
    }
    const stepStart = performance.now();
    const divisors = active.map((it) => it.scheduler.modelInputDivisor(t));
    const extras = ctx.unet.isInpainting ? active.map((it) => it.job.mask?.unetExtras ?? missingMask(it)) : undefined;
    const predicting = ctx.unet.predict(batch!, active.map((it) => it.latent), divisors, cfg, t, latentH, latentW, extras);
    // predict() has built the UNet's input by now and ONNX Runtime runs it next (on setImmediate):
    // the step-noise thread draws during that run, not beside this loop's own work
    if (active.some((it) => it.noise)) wakeStepNoiseThread();
    const preds = await predicting;
    for (let i = 0; i < active.length; i++) {
      const it = active[i];
      const eps = preds.eps(i, cfg ? it.job.req.guidance : undefined, it.eps);
      it.latent = it.scheduler.step(eps, t, it.latent, it.noise ? { noise: it.noise.next() } : { generator: it.generator });
      it.noise?.release();
      if (it.keptNoise) keepKnown(it.job.mask!, it.latent, it.scheduler, it.keptNoise, timesteps[k + 1]);
    }
    steps++;
    reportProgress(ctx, active, stepStart, latentH, latentW);
  }
  return steps;
}

function missingMask(item: Item): never {
  throw new Error(`request for seed ${item.seed} has no mask, which an inpainting UNet needs`);
}

function reportProgress(ctx: DenoiseContext, active: Item[], stepStart: number, latentH: number, latentW: number): void {
  const done = new Set<Job>();
  const end = performance.now();
  for (const item of active) {
    const job = item.job;
    if (done.has(job)) continue;
    done.add(job);
    job.stepsDone++;
    const onProgress = job.opts.onProgress;
    if (!onProgress) continue;
    const latent = item.latent;
    try {
      onProgress({
        step: job.stepsDone,
        total: job.stepTotal,
        elapsedMs: end - job.startedAt,
        stepMs: end - stepStart,
        preview: () => latentPreviewPng(latent, ctx.unet.latentChannels, latentH, latentW, ctx.latentRgb),
      });
    } catch (err) {
      // a failing progress sink (a chat edit that throws) must not fail the images
      ctx.logger?.warn({ err }, 'progress callback threw');
    }
  }
}
