/**
 * Runs a set of batch-compatible requests: text encoding, per-image seeded noise, the
 * denoising loop with every active image in one UNet batch (uncond + cond halves for
 * classifier-free guidance), per-image VAE decode and PNG encoding.
 *
 * Each image owns its scheduler and step-noise generator and is computed from its own
 * seed, so its bytes do not depend on what it was batched with: image i of a request
 * equals the same request with n = 1 and seed + i.
 */
import type { Logger } from 'pino';
import { createScheduler, img2imgTimesteps, type Scheduler } from './schedulers/index.ts';
import type { SeededRandom } from './random.ts';
import { imageNoise, stepGenerator } from './noise.ts';
import { guidanceEmbedding } from './guidance-embedding.ts';
import { latentPreviewPng } from './preview.ts';
import { chwToRgb, encodePng, formatParameters, loadRgb, makeGridRgb, rgbToChw, type ImageParameters } from './images.ts';
import type { PromptEncoder } from './text-encoder.ts';
import type { UNet, UNetBatch } from './unet.ts';
import type { Vae } from './vae.ts';
import type { SafetyChecker } from './safety-checker.ts';
import type { RunClock } from './sessions.ts';
import type { GenerateOptions, GenerateRequest, GenerateResult, GenerateTimings } from './request.ts';

export interface Engine {
  name: string;
  provider: string;
  prompts: PromptEncoder;
  unet: UNet;
  vae: Vae;
  clock: RunClock;
  schedulerConfig: Record<string, unknown>;
  maxBatch: number;
  logger?: Logger;
  /** the folder's NSFW classifier, when it has one */
  safety?: SafetyChecker;
}

export function abortError(signal: AbortSignal): Error {
  const err = new Error('generation aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

interface Job {
  req: GenerateRequest;
  opts: GenerateOptions;
  usesCfg: boolean;
  cond?: Float32Array;
  uncond?: Float32Array;
  guidanceCond?: Float32Array;
  initLatent?: Float32Array;
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

interface Item {
  job: Job;
  index: number;
  seed: number;
  latent: Float32Array;
  scheduler: Scheduler;
  generator: SeededRandom;
}

export function usesCfg(unet: UNet, req: GenerateRequest): boolean {
  // LCM-distilled UNets take guidance as an embedding instead of a second batch half
  return !unet.takesGuidanceEmbedding && req.guidance > 1;
}

function imageParameters(e: Engine, req: GenerateRequest, index: number): ImageParameters {
  const p: ImageParameters = {
    prompt: req.prompt,
    steps: req.steps,
    sampler: req.sampler,
    cfgScale: req.guidance,
    seed: req.seed + index,
    width: req.width,
    height: req.height,
    model: req.modelLabel ?? e.name,
  };
  if (req.negativePrompt) p.negativePrompt = req.negativePrompt;
  if (req.init) p.denoisingStrength = req.init.strength;
  if (req.noiseBlend) {
    p.variationSeed = req.noiseBlend.seed + index;
    p.variationStrength = req.noiseBlend.amount;
  }
  return p;
}

function checkAbort(job: Job): void {
  if (!job.error && job.opts.signal?.aborted) job.error = abortError(job.opts.signal);
}

/**
 * Generates every request; one settled result per request, in order. Requests must be
 * batch-compatible (the caller checks `batchKey`).
 */
export async function runJobs(e: Engine, reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<PromiseSettledResult<GenerateResult>[]> {
  const started = performance.now();
  const ortStart = e.clock.ms;
  const unetStart = e.unet.model.runMs;
  const timings: GenerateTimings = { totalMs: 0, textEncodeMs: 0, unetMs: 0, vaeMs: 0, ortRunMs: 0, unetRunMs: 0, steps: 0, batchSize: 0 };
  const jobs: Job[] = reqs.map((req, i) => ({
    req,
    opts: opts[i] ?? {},
    usesCfg: usesCfg(e.unet, req),
    pngs: [],
    rgbs: [],
    stepsDone: 0,
    stepTotal: 0,
    startedAt: started,
  }));
  const latentH = reqs[0].height / e.vae.scale;
  const latentW = reqs[0].width / e.vae.scale;
  const latentSize = e.unet.latentChannels * latentH * latentW;

  for (const job of jobs) {
    checkAbort(job);
    if (job.error) continue;
    try {
      const t0 = performance.now();
      job.cond = await e.prompts.encode(job.req.prompt);
      if (job.usesCfg) job.uncond = await e.prompts.encode(job.req.negativePrompt ?? '');
      timings.textEncodeMs += performance.now() - t0;
      if (e.unet.takesGuidanceEmbedding) job.guidanceCond = guidanceEmbedding(job.req.guidance, e.unet.condDim);
      if (job.req.init) {
        const t1 = performance.now();
        const rgb = await loadRgb(job.req.init.image, job.req.width, job.req.height);
        job.initLatent = await e.vae.encode(rgbToChw(rgb, job.req.width, job.req.height), job.req.height, job.req.width);
        timings.vaeMs += performance.now() - t1;
      }
    } catch (err) {
      job.error = err as Error;
    }
  }

  // every image of every request, in request order, cut into UNet batches of maxBatch
  const slots = jobs.flatMap((job) => Array.from({ length: job.req.n }, (_, index) => ({ job, index })));
  const chunks: (typeof slots)[] = [];
  for (let i = 0; i < slots.length; i += e.maxBatch) chunks.push(slots.slice(i, i + e.maxBatch));
  const stepsPerChunk = scheduleFor(e, reqs[0]).timesteps.length;
  for (const chunk of chunks) for (const job of new Set(chunk.map((s) => s.job))) job.stepTotal += stepsPerChunk;

  const encodes: Promise<void>[] = [];
  for (const chunk of chunks) {
    const live = chunk.filter((s) => (checkAbort(s.job), !s.job.error));
    if (live.length === 0) continue;
    const items = live.map(({ job, index }) => startItem(e, job, index, latentSize));
    timings.batchSize = Math.max(timings.batchSize, items.length);
    const t0 = performance.now();
    try {
      timings.steps = Math.max(timings.steps, await denoise(e, items, latentH, latentW));
    } catch (err) {
      for (const item of items) item.job.error ??= err as Error;
    }
    timings.unetMs += performance.now() - t0;
    for (const item of items) {
      if (item.job.error) continue;
      try {
        const t1 = performance.now();
        // the LCM pipeline returns the last step's denoised estimate, not the re-noised sample;
        // every other diffusers pipeline returns the sample itself
        const final = item.scheduler.finalSample?.(item.latent) ?? item.latent;
        const image = await e.vae.decode(final, latentH, latentW);
        timings.vaeMs += performance.now() - t1;
        const { job, index } = item;
        const rgb = chwToRgb(image, job.req.width, job.req.height);
        job.rgbs[index] = rgb;
        // PNG encoding runs on libvips' threads while the next image decodes
        encodes.push(
          encodePng(rgb, job.req.width, job.req.height, formatParameters(imageParameters(e, job.req, index))).then(
            (png) => void (job.pngs[index] = png),
            (err: Error) => void (job.error ??= err),
          ),
        );
      } catch (err) {
        item.job.error = err as Error;
      }
    }
  }
  await Promise.all(encodes);
  if (e.safety) {
    for (const job of jobs) {
      if (job.error) continue;
      try {
        job.nsfw = await e.safety.check(job.rgbs, job.req.width, job.req.height);
      } catch (err) {
        job.error = err as Error;
      }
    }
  }

  const grids = await Promise.all(
    jobs.map((job) =>
      job.error || job.req.n === 1
        ? undefined
        : makeGridRgb(job.rgbs, job.req.width, job.req.height, formatParameters(imageParameters(e, job.req, 0))).catch((err: Error) => {
            job.error ??= err;
            return undefined;
          }),
    ),
  );
  timings.totalMs = performance.now() - started;
  timings.ortRunMs = e.clock.ms - ortStart;
  timings.unetRunMs = e.unet.model.runMs - unetStart;

  const results: PromiseSettledResult<GenerateResult>[] = [];
  for (const [j, job] of jobs.entries()) {
    checkAbort(job);
    if (job.error) {
      results.push({ status: 'rejected', reason: job.error });
      continue;
    }
    const { req } = job;
    const grid = grids[j];
    results.push({
      status: 'fulfilled',
      value: {
        images: job.pngs.map((png, i) => ({ png, seed: req.seed + i, width: req.width, height: req.height, ...(job.nsfw ? { nsfw: job.nsfw[i] } : {}) })),
        ...(grid ? { grid } : {}),
        timings: { ...timings },
        model: req.modelLabel ?? e.name,
        sampler: req.sampler,
        provider: e.provider,
      },
    });
  }
  return results;
}

interface Schedule {
  scheduler: Scheduler;
  timesteps: number[];
  latentTimestep?: number;
}

function scheduleFor(e: Engine, req: GenerateRequest): Schedule {
  const scheduler = createScheduler(req.sampler, e.schedulerConfig);
  if (req.init) {
    const s = img2imgTimesteps(scheduler, req.steps, req.init.strength);
    return { scheduler, timesteps: s.timesteps, latentTimestep: s.latentTimestep };
  }
  scheduler.setTimesteps(req.steps);
  return { scheduler, timesteps: scheduler.timesteps };
}

function startItem(e: Engine, job: Job, index: number, latentSize: number): Item & { timesteps: number[] } {
  const { req } = job;
  const seed = req.seed + index;
  const { scheduler, timesteps, latentTimestep } = scheduleFor(e, req);
  const blend = req.noiseBlend ? { seed: req.noiseBlend.seed + index, amount: req.noiseBlend.amount } : undefined;
  const noise = imageNoise(seed, latentSize, blend);
  let latent: Float32Array;
  if (job.initLatent && latentTimestep !== undefined) {
    latent = scheduler.addNoise(job.initLatent, noise, latentTimestep);
  } else {
    latent = noise;
    const sigma = scheduler.initNoiseSigma;
    if (sigma !== 1) for (let i = 0; i < latent.length; i++) latent[i] *= sigma;
  }
  return { job, index, seed, latent, scheduler, generator: stepGenerator(seed), timesteps };
}

/** The denoising loop over one batch; returns how many steps ran. */
async function denoise(e: Engine, items: (Item & { timesteps: number[] })[], latentH: number, latentW: number): Promise<number> {
  const timesteps = items[0].timesteps;
  const cfg = items[0].job.usesCfg;
  let active: typeof items = [];
  let batch: UNetBatch | undefined;
  let steps = 0;
  for (const t of timesteps) {
    for (const item of items) checkAbort(item.job);
    const now = items.filter((it) => !it.job.error);
    if (now.length === 0) break;
    if (now.length !== active.length) {
      // the batch shrinks when a request is cancelled; the others carry on without it
      active = now;
      const hidden = active.map((it) => it.job.cond!);
      const conds = e.unet.takesGuidanceEmbedding ? active.map((it) => it.job.guidanceCond!) : undefined;
      batch = cfg ? e.unet.prepare([...active.map((it) => it.job.uncond!), ...hidden]) : e.unet.prepare(hidden, conds);
    }
    const stepStart = performance.now();
    const scaled = active.map((it) => it.scheduler.scaleModelInput(it.latent, t));
    const preds = await e.unet.predict(batch!, cfg ? [...scaled, ...scaled] : scaled, t, latentH, latentW);
    const B = active.length;
    active.forEach((it, i) => {
      let eps = preds[cfg ? B + i : i];
      if (cfg) {
        const uncond = preds[i];
        const g = it.job.req.guidance;
        const guided = new Float32Array(eps.length);
        for (let k = 0; k < guided.length; k++) guided[k] = uncond[k] + g * (eps[k] - uncond[k]);
        eps = guided;
      }
      it.latent = it.scheduler.step(eps, t, it.latent, { generator: it.generator });
    });
    steps++;
    reportProgress(e, active, stepStart, latentH, latentW);
  }
  return steps;
}

function reportProgress(e: Engine, active: Item[], stepStart: number, latentH: number, latentW: number): void {
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
        preview: () => latentPreviewPng(latent, e.unet.latentChannels, latentH, latentW),
      });
    } catch (err) {
      // a failing progress sink (a chat edit that throws) must not fail the images
      e.logger?.warn({ err }, 'progress callback threw');
    }
  }
}
