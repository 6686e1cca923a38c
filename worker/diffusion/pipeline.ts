/**
 * Latent diffusion on onnxruntime-node: `loadPipeline(modelDir)` reads the folder's model
 * family (SD, SDXL; see families/), checks the folder (model-plan.ts), loads each ONNX
 * model once per process, and returns a Pipeline for txt2img, img2img, dynamic batching
 * across requests, and upscaling.
 *
 * Calls into one Pipeline run one at a time (a queue): a second request waits for the
 * first instead of doubling the memory of both; batching several requests is what
 * `generateMany` is for.
 */
import path from 'node:path';
import sharp from 'sharp';
import type { Logger } from 'pino';
import { relative, type ModelFolder } from './model-folder.ts';
import { readOnnxInterface } from './onnx-header.ts';
import { checkUpscaler, knownDims } from './model-contract.ts';
import { SafetyChecker } from './safety-checker.ts';
import { OnnxModel, RunClock, type SessionSettings } from './sessions.ts';
import { availableProviders, bindingDir, resolveProviders } from './providers.ts';
import { UNet } from './unet.ts';
import { Vae } from './vae.ts';
import { ModelUpscaler, upscalerFile, DEFAULT_UPSCALER_TILING, type UpscalerTiling } from './upscale.ts';
import type { Tiling } from './tiling.ts';
import { runJobs, usesCfg, type Engine } from './generation.ts';
import { planModel, type ModelPlan } from './model-plan.ts';
import { batchKey, validateRequest, type RequestLimits, type GenerateOptions, type GenerateRequest, type GenerateResult, type PendingResult, type UpscaleRequest } from './request.ts';
import { encodePng, imageSize, loadRgb } from './images.ts';
import { startStepNoiseThread } from './step-noise-prefetch.ts';
import { readPngTexts, addPngText } from './png-text.ts';

export type { GenerateRequest, GenerateOptions, GenerateResult, PendingResult, ProgressInfo, UpscaleRequest, GenerateTimings } from './request.ts';

export interface LoadPipelineOptions {
  /** execution providers in priority order (default: ORT_PROVIDERS, else cuda when present, else cpu) */
  providers?: string[];
  intraOpThreads?: number;
  /** most images denoised in one UNet batch (default 4); larger n is split */
  maxBatch?: number;
  logger?: Logger;
  /** folder with model.onnx (or the .onnx file) of an image->image upscaler; without it upscale() is a hires fix */
  upscalerDir?: string;
  /** VAE tiling in latent pixels (default: the model family's, SD 64 with 16 overlap, SDXL 128 with 32) */
  vaeTiling?: Tiling;
  upscalerTiling?: UpscalerTiling;
  /**
   * Serve one image size only: its dimensions are given to onnxruntime as
   * freeDimensionOverrides so it can plan memory and kernels for that shape.
   */
  fixedSize?: { width: number; height: number };
}

export interface Pipeline {
  modelDir: string;
  /** folder basename */
  name: string;
  /** what actually loaded, e.g. ['cpu'] or ['cuda', 'cpu'] */
  providers: string[];
  defaultSize: { width: number; height: number };
  /** true when the folder has a VAE encoder (img2img, hires fix) */
  canImg2Img: boolean;
  /** true when upscale() runs a dedicated upscaler model rather than a hires fix */
  hasUpscalerModel: boolean;
  /** true for an inpainting model (a UNet fed a mask and a masked image): it only runs masked requests */
  editsOnly: boolean;
  maxBatch: number;
  generate(req: GenerateRequest, opts?: GenerateOptions): Promise<GenerateResult>;
  /**
   * Compatible requests (same size, steps, sampler, CFG on/off, txt2img or img2img at the
   * same strength) run as one UNet batch; each keeps its seeds, prompt, guidance,
   * progress and abort signal. Resolves when all are done; rejects with the first
   * failure (e.g. an AbortError) after the others have finished. Throws before any work
   * when the requests are not compatible.
   */
  generateMany(reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<GenerateResult[]>;
  /** As generateMany, with one settled outcome per request (a cancelled one does not hide the others' images). */
  generateEach(reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<PromiseSettledResult<GenerateResult>[]>;
  /**
   * The lower-level entry the worker uses: generateEach in two stages. Resolves as soon as the
   * device is done with the batch (denoised, decoded, safety-checked), so the pipeline takes
   * its next call while each fulfilled request's PNGs and grid still encode (`result`, the
   * same bytes generateEach gives). generate/generateMany/generateEach keep DESIGN.md's
   * contract (finished PNGs) by awaiting these.
   */
  decodeEach(reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<PromiseSettledResult<PendingResult>[]>;
  upscale(req: UpscaleRequest, opts?: GenerateOptions): Promise<GenerateResult>;
  dispose(): Promise<void>;
}

const cache = new Map<string, Promise<Pipeline>>();

function cacheKey(dir: string, opts: LoadPipelineOptions): string {
  return JSON.stringify({
    dir,
    providers: resolveProviders(opts.providers),
    threads: opts.intraOpThreads ?? null,
    maxBatch: opts.maxBatch ?? null,
    upscaler: opts.upscalerDir ? path.resolve(opts.upscalerDir) : null,
    vaeTiling: opts.vaeTiling ?? null,
    upscalerTiling: opts.upscalerTiling ?? null,
    fixedSize: opts.fixedSize ?? null,
  });
}

/** Cached per process by folder and options: a second call returns the same Pipeline. */
export function loadPipeline(modelDir: string, opts: LoadPipelineOptions = {}): Promise<Pipeline> {
  const dir = path.resolve(modelDir);
  const key = cacheKey(dir, opts);
  let pending = cache.get(key);
  if (!pending) {
    pending = createPipeline(dir, opts, () => cache.delete(key));
    cache.set(key, pending);
    // a failed load must not be remembered: the folder may be fixed and retried
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

/** The one size a worker serves, when the UNet export or the deployment fixes it. */
function onlySizeOf(p: ModelPlan, opts: LoadPipelineOptions): RequestLimits['onlySize'] {
  const scale = p.folder.vaeScaleFactor;
  if (opts.fixedSize) {
    const { width, height } = opts.fixedSize;
    if (!Number.isInteger(width / scale) || !Number.isInteger(height / scale)) throw new Error(`fixedSize must be a multiple of ${scale}, got ${width}x${height}`);
    if (p.staticSize && (p.staticSize.width !== width || p.staticSize.height !== height)) {
      throw new Error(`fixedSize ${width}x${height} differs from the ${p.staticSize.width}x${p.staticSize.height} that ${p.folder.name}/unet/model.onnx is exported for`);
    }
    return { width, height, why: 'this worker was configured to serve one size and' };
  }
  if (p.staticSize) return { ...p.staticSize, why: `${p.folder.name}/unet/model.onnx is exported with a fixed size and` };
  return undefined;
}

/** Sizes the sessions can be told up front (freeDimensionOverrides), per model file. */
function sessionDims(p: ModelPlan, onlySize: RequestLimits['onlySize'], tiling: Tiling) {
  const { io } = p;
  const scale = p.folder.vaeScaleFactor;
  const lh = onlySize ? onlySize.height / scale : undefined;
  const lw = onlySize ? onlySize.width / scale : undefined;
  // the VAE sees whole images only when they fit in one tile; tiles have another size
  const vaeWhole = lh !== undefined && lw !== undefined && lh <= tiling.tile && lw <= tiling.tile;
  return {
    unet: knownDims([io.unet.sample, ...io.unet.conditioning], {
      sample: [undefined, p.sampleChannels, lh, lw],
      encoder_hidden_states: [undefined, p.text.sequence, p.hiddenSize],
      timestep_cond: [undefined, p.condDim || undefined],
      time_ids: [undefined, 6],
    }),
    decoder: knownDims([io.decoder.latent], { latent_sample: [undefined, p.latentChannels, vaeWhole ? lh : undefined, vaeWhole ? lw : undefined] }),
    encoder: io.encoder
      ? knownDims([io.encoder.image], { sample: [undefined, 3, vaeWhole ? onlySize!.height : undefined, vaeWhole ? onlySize!.width : undefined] })
      : {},
  };
}

async function createPipeline(dir: string, opts: LoadPipelineOptions, forget: () => void): Promise<Pipeline> {
  const p = planModel(dir);
  const { folder, io } = p;
  const logger = opts.logger;
  const maxBatch = opts.maxBatch ?? 4;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`maxBatch must be a positive integer, got ${maxBatch}`);
  const tiling = opts.vaeTiling ?? folder.family.defaults.vaeTiling;
  const onlySize = onlySizeOf(p, opts);
  const dims = sessionDims(p, onlySize, tiling);
  logger?.debug({ model: folder.name, freeDimensionOverrides: dims }, 'session dimension overrides');

  const clock = new RunClock();
  const requested = resolveProviders(opts.providers);
  const { usable, unavailable } = availableProviders(requested);
  if (unavailable.length > 0) logger?.warn({ requested, unavailable, libraryDir: bindingDir() }, 'execution providers not available on this host; running without them');
  let providers = usable;
  const settings = (overrides: Record<string, number>): SessionSettings => ({
    providers,
    intraOpThreads: opts.intraOpThreads,
    freeDimensionOverrides: overrides,
  });
  const label = (file: string) => `${folder.name}/${relative(dir, file)}`;
  const loaded: OnnxModel[] = [];
  const load = async (file: string, overrides: Record<string, number>) => {
    const model = await OnnxModel.load(file, label(file), settings(overrides), clock);
    loaded.push(model);
    return model;
  };
  try {
    let unetModel: OnnxModel;
    try {
      unetModel = await load(folder.files.unet, dims.unet);
    } catch (err) {
      if (providers.length === 1) throw err;
      // an accelerator that fails to initialise (driver, missing library) falls back to CPU, loudly
      logger?.warn({ err, requested: providers }, 'execution providers failed to load; falling back to cpu');
      providers = ['cpu'];
      unetModel = await load(folder.files.unet, dims.unet);
    }
    const encoders: Record<string, OnnxModel> = {};
    for (const enc of p.text.encoders) encoders[enc.key] = await load(enc.file, enc.overrides);
    const decoderModel = await load(folder.files.vaeDecoder, dims.decoder);
    const encoderModel = folder.files.vaeEncoder ? await load(folder.files.vaeEncoder, dims.encoder) : undefined;
    const safety = p.safety ? new SafetyChecker(await load(p.safety.file, {}), p.safety.io, p.safety.preprocessing) : undefined;

    let upscaler: ModelUpscaler | undefined;
    if (opts.upscalerDir) {
      const file = upscalerFile(opts.upscalerDir);
      const upIo = checkUpscaler(`upscaler ${file}`, readOnnxInterface(file));
      const model = await OnnxModel.load(file, `upscaler ${path.basename(path.dirname(file))}`, settings({}), clock);
      loaded.push(model);
      upscaler = new ModelUpscaler(model, upIo, opts.upscalerTiling ?? DEFAULT_UPSCALER_TILING);
    }

    const unet = new UNet(unetModel, io.unet, p.latentChannels, p.condDim, p.sampleChannels - p.latentChannels);
    const vae = new Vae(decoderModel, io.decoder, encoderModel, io.encoder, folder.scalingFactor, folder.vaeScaleFactor, p.latentChannels, tiling, folder.forceUpcast);
    const engine: Engine = {
      name: folder.name,
      provider: providers[0],
      conditioner: p.text.createConditioner(encoders),
      unet,
      vae,
      clock,
      schedulerConfig: folder.schedulerConfig,
      latentRgb: folder.family.latentRgb,
      maxBatch,
      logger,
      safety,
    };
    logger?.info(
      {
        model: folder.name,
        family: folder.family.name,
        dir,
        providers,
        unet: {
          timestep: `${io.unet.timestep.type} ${io.unet.timestepForm}`,
          dtype: io.unet.sample.type,
          inputs: io.unet.conditioning.map((s) => s.name),
          lcm: unet.takesGuidanceEmbedding,
        },
        text: p.text.summary,
        vaeEncoder: io.encoder?.output.name ?? null,
        scalingFactor: folder.scalingFactor,
        forceUpcast: folder.forceUpcast,
        upscaler: upscaler ? opts.upscalerDir : null,
        safetyChecker: safety !== undefined,
      },
      'diffusion pipeline loaded',
    );
    // Ancestral samplers' step noise is drawn ahead on a thread that takes a moment to start.
    startStepNoiseThread();
    return new LoadedPipeline(dir, folder, providers, engine, upscaler, loaded, forget, onlySize);
  } catch (err) {
    await Promise.all(loaded.map((m) => m.release().catch(() => undefined)));
    throw err;
  }
}

class LoadedPipeline implements Pipeline {
  readonly name: string;
  readonly defaultSize: { width: number; height: number };
  readonly maxBatch: number;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(
    readonly modelDir: string,
    folder: ModelFolder,
    readonly providers: string[],
    private readonly engine: Engine,
    private readonly upscaler: ModelUpscaler | undefined,
    private readonly models: OnnxModel[],
    private readonly forget: () => void,
    private readonly onlySize: RequestLimits['onlySize'],
  ) {
    this.name = folder.name;
    this.defaultSize = onlySize ? { width: onlySize.width, height: onlySize.height } : folder.defaultSize;
    this.maxBatch = engine.maxBatch;
  }

  get canImg2Img(): boolean {
    return this.engine.vae.canEncode;
  }

  get editsOnly(): boolean {
    return this.engine.unet.isInpainting;
  }

  get hasUpscalerModel(): boolean {
    return this.upscaler !== undefined;
  }

  /** One call at a time per pipeline; a failure does not block the queue. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(new Error(`pipeline ${this.name} has been disposed`));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private check(reqs: GenerateRequest[]): void {
    if (reqs.length === 0) throw new Error('no requests given');
    const limits: RequestLimits = {
      vaeScale: this.engine.vae.scale,
      canEncode: this.engine.vae.canEncode,
      inpaintingUnet: this.engine.unet.isInpainting,
      onlySize: this.onlySize,
    };
    reqs.forEach((req, i) => {
      try {
        validateRequest(req, limits);
      } catch (err) {
        throw reqs.length === 1 ? err : new Error(`request ${i}: ${(err as Error).message}`, { cause: err });
      }
    });
    const keys = reqs.map((r) => batchKey(r, usesCfg(this.engine.unet, r)));
    const odd = keys.findIndex((k) => k !== keys[0]);
    if (odd >= 0) {
      throw new Error(`requests cannot share one batch: request 0 has ${keys[0]}; request ${odd} has ${keys[odd]}`);
    }
  }

  async generate(req: GenerateRequest, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const [result] = await this.generateMany([req], [opts]);
    return result;
  }

  async generateMany(reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<GenerateResult[]> {
    const settled = await this.generateEach(reqs, opts);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<GenerateResult>).value);
  }

  async generateEach(reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<PromiseSettledResult<GenerateResult>[]> {
    const decoded = await this.decodeEach(reqs, opts);
    return Promise.all(
      decoded.map((d): Promise<PromiseSettledResult<GenerateResult>> =>
        d.status === 'rejected'
          ? Promise.resolve(d)
          : d.value.result.then(
              (value) => ({ status: 'fulfilled', value }),
              (reason: unknown) => ({ status: 'rejected', reason }),
            ),
      ),
    );
  }

  decodeEach(reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<PromiseSettledResult<PendingResult>[]> {
    try {
      this.check(reqs);
    } catch (err) {
      return Promise.reject(err);
    }
    // The lock covers the device's part only: encoding the files overlaps the next call.
    return this.exclusive(() => runJobs(this.engine, reqs, opts));
  }

  async upscale(req: UpscaleRequest, opts: GenerateOptions = {}): Promise<GenerateResult> {
    if (req.factor !== 2 && req.factor !== 4) throw new Error(`upscale factor must be 2 or 4, got ${req.factor}`);
    const { width, height } = await imageSize(req.image);
    if (this.upscaler) return this.exclusive(() => this.modelUpscale(req, width, height, opts));
    const scale = this.engine.vae.scale;
    const w = Math.floor((width * req.factor) / scale) * scale;
    const h = Math.floor((height * req.factor) / scale) * scale;
    // hires fix: the image resized with lanczos3 to the target size, encoded, and lightly re-denoised
    return this.generate(
      {
        prompt: req.prompt,
        negativePrompt: req.negativePrompt,
        seed: req.seed,
        steps: req.steps,
        guidance: req.guidance,
        width: w,
        height: h,
        n: 1,
        sampler: req.sampler,
        init: { image: req.image, strength: req.strength ?? 0.3 },
        modelLabel: req.modelLabel,
      },
      opts,
    );
  }

  private async modelUpscale(req: UpscaleRequest, width: number, height: number, opts: GenerateOptions): Promise<GenerateResult> {
    if (opts.signal?.aborted) {
      const err = new Error('upscale aborted', { cause: opts.signal.reason });
      err.name = 'AbortError';
      throw err;
    }
    const started = performance.now();
    const ortStart = this.engine.clock.ms;
    const rgb = await loadRgb(req.image, width, height);
    const up = await this.upscaler!.upscale(rgb, width, height);
    const targetW = width * req.factor;
    const targetH = height * req.factor;
    let png: Buffer;
    if (up.width === targetW && up.height === targetH) {
      png = await encodePng(up.rgb, up.width, up.height);
    } else {
      // the model's own scale differs from the one asked for: finish with lanczos3
      png = await sharp(up.rgb, { raw: { width: up.width, height: up.height, channels: 3 } })
        .resize(targetW, targetH, { kernel: 'lanczos3' })
        .png()
        .toBuffer();
    }
    // the source's generation parameters still describe the picture
    const source = readPngTextsSafe(req.image).get('parameters');
    if (source !== undefined) png = addPngText(png, 'parameters', source);
    // the upscaled picture shows what the source showed: the source is checked, at its own size
    const nsfw = this.engine.safety ? (await this.engine.safety.check([rgb], width, height))[0] : undefined;
    const totalMs = performance.now() - started;
    const ortRunMs = this.engine.clock.ms - ortStart;
    return {
      images: [{ png, seed: req.seed, width: targetW, height: targetH, ...(nsfw === undefined ? {} : { nsfw }) }],
      timings: { totalMs, textEncodeMs: 0, unetMs: 0, vaeMs: 0, ortRunMs, unetRunMs: 0, steps: 0, batchSize: 1 },
      model: req.modelLabel ?? this.name,
      sampler: 'upscaler',
      provider: this.engine.provider,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.forget();
    await this.queue;
    await Promise.all(this.models.map((m) => m.release()));
  }
}

function readPngTextsSafe(image: Buffer): Map<string, string> {
  try {
    return readPngTexts(image);
  } catch {
    return new Map(); // not a PNG (JPEG, WebP): nothing to carry over
  }
}
