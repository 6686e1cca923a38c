/**
 * Runs a set of batch-compatible requests in three stages: encode (prompts -> the model
 * family's conditioning, init images -> latents), denoise (every active image of a chunk
 * in one UNet batch, see denoise.ts) and decode (latents -> pixels), then the safety check.
 * That is the device's part (runJobs resolves there, so the pipeline can take its next call);
 * the PNGs (started as each image's pixels exist) and the grids finish afterwards on
 * libvips' threads, each request's `result` resolving when its files are ready.
 *
 * Each image owns its scheduler and step-noise generator and is computed from its own
 * seed, so its bytes do not depend on what it was batched with: image i of a request
 * equals the same request with n = 1 and seed + i.
 */
import { imageSeed } from '../../src/image-seed.ts';
import { guidanceEmbedding } from './guidance-embedding.ts';
import { encodePng, formatParameters, loadRgb, makeGridRgb, rgbToChw, type ImageParameters } from './images.ts';
import { checkAbort, denoiseBatch, scheduleFor, startItem, type DenoiseContext, type Item, type Job } from './denoise.ts';
import type { Conditioner, Conditioning } from './families/types.ts';
import { compositeOverSource, prepareMask } from './masked.ts';
import type { UNet } from './unet.ts';
import type { Vae } from './vae.ts';
import type { SafetyChecker } from './safety-checker.ts';
import type { RunClock } from './sessions.ts';
import type { GenerateOptions, GenerateRequest, GenerateResult, GenerateTimings, PendingResult } from './request.ts';

export { abortError } from './denoise.ts';

export interface Engine extends DenoiseContext {
  name: string;
  provider: string;
  conditioner: Conditioner;
  vae: Vae;
  clock: RunClock;
  maxBatch: number;
  /** the folder's NSFW classifier, when it has one */
  safety?: SafetyChecker;
}

export function usesCfg(unet: UNet, req: GenerateRequest): boolean {
  // guidance <= 1 (Turbo, Lightning: 0) is one UNet pass per step; LCM-distilled UNets take
  // guidance as an embedding instead of a second batch half
  return !unet.takesGuidanceEmbedding && req.guidance > 1;
}

function imageParameters(e: Engine, req: GenerateRequest, index: number): ImageParameters {
  const p: ImageParameters = {
    prompt: req.prompt,
    steps: req.steps,
    sampler: req.sampler,
    cfgScale: req.guidance,
    seed: imageSeed(req.seed, index),
    width: req.width,
    height: req.height,
    model: req.modelLabel ?? e.name,
  };
  if (req.negativePrompt) p.negativePrompt = req.negativePrompt;
  if (req.init) p.denoisingStrength = req.init.strength;
  if (req.inpaint?.label) p.edit = req.inpaint.label;
  if (req.inpaint?.strength !== undefined && req.inpaint.strength < 1) p.denoisingStrength = req.inpaint.strength;
  if (req.noiseBlend) {
    p.variationSeed = imageSeed(req.noiseBlend.seed, index);
    p.variationStrength = req.noiseBlend.amount;
  }
  return p;
}

/** Encode stage, one job: the conditioning of both CFG halves and the init image's latent. */
async function encodeJob(e: Engine, job: Job, timings: GenerateTimings): Promise<void> {
  const { req } = job;
  const t0 = performance.now();
  const perImage: Conditioning = {
    ...e.conditioner.image({ width: req.width, height: req.height }),
    ...(e.unet.takesGuidanceEmbedding ? { [e.unet.io.timestepCond!.name]: guidanceEmbedding(req.guidance, e.unet.condDim) } : {}),
  };
  const text = await e.conditioner.prompt(req.prompt);
  job.cond = { ...text, ...perImage };
  if (job.usesCfg) job.uncond = { ...(await e.conditioner.unconditional(req.negativePrompt, text)), ...perImage };
  timings.textEncodeMs += performance.now() - t0;
  if (req.init) {
    const t1 = performance.now();
    const rgb = await loadRgb(req.init.image, req.width, req.height);
    job.initLatent = await e.vae.encode(rgbToChw(rgb, req.width, req.height), req.height, req.width);
    timings.vaeMs += performance.now() - t1;
  }
  if (req.inpaint) {
    const t1 = performance.now();
    job.mask = await prepareMask(e.vae, req, e.unet.isInpainting);
    if ((req.inpaint.strength ?? 1) < 1) job.initLatent = job.mask.known;
    timings.vaeMs += performance.now() - t1;
  }
}

/**
 * Decode stage, one image: the latent the scheduler hands over -> pixels; resolves once the
 * pixels are there, with the PNG still encoding on libvips' threads (`png`) while the next
 * image decodes (and, after the device's part, while the next call denoises).
 */
async function decodeItem(e: Engine, item: Item, latentH: number, latentW: number, timings: GenerateTimings): Promise<{ png: Promise<void> }> {
  const t1 = performance.now();
  const rgb = await e.vae.decodeToRgb(item.scheduler.finalSample?.(item.latent) ?? item.latent, latentH, latentW);
  timings.vaeMs += performance.now() - t1;
  const { job, index } = item;
  if (job.mask) compositeOverSource(job.mask, rgb);
  job.rgbs[index] = rgb;
  const png = encodePng(rgb, job.req.width, job.req.height, formatParameters(imageParameters(e, job.req, index))).then(
    (bytes) => void (job.pngs[index] = bytes),
    (err: Error) => void (job.error ??= err),
  );
  return { png };
}

async function checkSafety(e: Engine, jobs: Job[]): Promise<void> {
  if (!e.safety) return;
  for (const job of jobs) {
    if (job.error) continue;
    try {
      job.nsfw = await e.safety.check(job.rgbs, job.req.width, job.req.height);
    } catch (err) {
      job.error = err as Error;
    }
  }
}

function makeGrids(e: Engine, jobs: Job[]): Promise<(Buffer | undefined)[]> {
  return Promise.all(
    jobs.map((job) =>
      job.error || job.req.n === 1
        ? undefined
        : makeGridRgb(job.rgbs, job.req.width, job.req.height, formatParameters(imageParameters(e, job.req, 0))).catch((err: Error) => {
            job.error ??= err;
            return undefined;
          }),
    ),
  );
}

/**
 * Generates every request; one settled outcome per request, in order, once the device's part
 * is over (a cancelled or failed request is rejected there). A fulfilled one's `result`
 * resolves when its PNGs and grid are encoded. Requests must be batch-compatible (the caller
 * checks `batchKey`).
 */
export async function runJobs(e: Engine, reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<PromiseSettledResult<PendingResult>[]> {
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
    await encodeJob(e, job, timings).catch((err: Error) => void (job.error = err));
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
      timings.steps = Math.max(timings.steps, await denoiseBatch(e, items, latentH, latentW));
    } catch (err) {
      for (const item of items) item.job.error ??= err as Error;
    }
    timings.unetMs += performance.now() - t0;
    for (const item of items) {
      if (item.job.error) continue;
      try {
        encodes.push((await decodeItem(e, item, latentH, latentW, timings)).png);
      } catch (err) {
        item.job.error = err as Error;
      }
    }
  }
  await checkSafety(e, jobs);
  // Read now: once this returns, the pipeline's next call runs ONNX Runtime while these files encode.
  timings.ortRunMs = e.clock.ms - ortStart;
  timings.unetRunMs = e.unet.model.runMs - unetStart;
  for (const job of jobs) checkAbort(job);

  // Off the device's critical path: the PNGs already encoding, then each request's grid.
  const files = Promise.all(encodes).then(() => makeGrids(e, jobs));
  return jobs.map((job, j): PromiseSettledResult<PendingResult> => {
    if (job.error) return { status: 'rejected', reason: job.error };
    const { req } = job;
    const result = files.then((grids): GenerateResult => {
      // An encoding failure surfaces here, not as a failed device stage.
      if (job.error) throw job.error;
      const grid = grids[j];
      return {
        images: job.pngs.map((png, i) => ({ png, seed: imageSeed(req.seed, i), width: req.width, height: req.height, ...(job.nsfw ? { nsfw: job.nsfw[i] } : {}) })),
        ...(grid ? { grid } : {}),
        timings: { ...timings, totalMs: performance.now() - started },
        model: req.modelLabel ?? e.name,
        sampler: req.sampler,
        provider: e.provider,
      };
    });
    // Whoever holds the outcome awaits `result`; this only keeps an early failure from being reported as unhandled.
    result.catch(() => undefined);
    return { status: 'fulfilled', value: { result } };
  });
}
