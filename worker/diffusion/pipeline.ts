/**
 * Stable Diffusion on onnxruntime-node: `loadPipeline(modelDir)` checks the folder, loads
 * each ONNX model once per process, and returns a Pipeline for txt2img, img2img,
 * dynamic batching across requests, and upscaling.
 *
 * Calls into one Pipeline run one at a time (a queue): a second request waits for the
 * first instead of doubling the memory of both; batching several requests is what
 * `generateMany` is for.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Logger } from 'pino';
import { ClipTokenizer } from './tokenizer/clip-tokenizer.ts';
import { createScheduler } from './schedulers/index.ts';
import { FEATURE_EXTRACTOR_CONFIG, readModelFolder, relative, type ModelFolder } from './model-folder.ts';
import { readOnnxInterface } from './onnx-header.ts';
import { checkSafetyChecker, checkTextEncoder, checkUNet, checkUpscaler, checkVaeDecoder, checkVaeEncoder, knownDims, type SafetyCheckerIO } from './model-contract.ts';
import { SafetyChecker, readClipPreprocessing, type ClipPreprocessing } from './safety-checker.ts';
import { OnnxModel, RunClock, type SessionSettings } from './sessions.ts';
import { resolveProviders } from './providers.ts';
import { PromptEncoder } from './text-encoder.ts';
import { UNet } from './unet.ts';
import { Vae, DEFAULT_VAE_TILING } from './vae.ts';
import { ModelUpscaler, upscalerFile, DEFAULT_UPSCALER_TILING, type UpscalerTiling } from './upscale.ts';
import type { Tiling } from './tiling.ts';
import { runJobs, usesCfg, type Engine } from './generation.ts';
import { batchKey, validateRequest, type RequestLimits, type GenerateOptions, type GenerateRequest, type GenerateResult, type UpscaleRequest } from './request.ts';
import { encodePng, imageSize, loadRgb } from './images.ts';
import { readPngTexts, addPngText } from './png-text.ts';

export type { GenerateRequest, GenerateOptions, GenerateResult, ProgressInfo, UpscaleRequest, GenerateTimings } from './request.ts';

export interface LoadPipelineOptions {
  /** execution providers in priority order (default: ORT_PROVIDERS, else cuda when present, else cpu) */
  providers?: string[];
  intraOpThreads?: number;
  /** most images denoised in one UNet batch (default 4); larger n is split */
  maxBatch?: number;
  logger?: Logger;
  /** folder with model.onnx (or the .onnx file) of an image->image upscaler; without it upscale() is a hires fix */
  upscalerDir?: string;
  /** VAE tiling in latent pixels (default 64 with 16 overlap) */
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

function integerOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

interface Plan {
  folder: ModelFolder;
  io: {
    text: ReturnType<typeof checkTextEncoder>;
    unet: ReturnType<typeof checkUNet>;
    decoder: ReturnType<typeof checkVaeDecoder>;
    encoder?: ReturnType<typeof checkVaeEncoder>;
  };
  latentChannels: number;
  hiddenSize?: number;
  condDim: number;
  tokenizer: ClipTokenizer;
  /** a UNet exported with fixed height and width serves that size only */
  staticSize?: { width: number; height: number };
  /** the folder's safety checker: its file, interface and how its clip_input is prepared */
  safety?: { file: string; io: SafetyCheckerIO; preprocessing: ClipPreprocessing };
}

/** Everything that can be checked without creating a session, so a bad folder fails fast. */
function plan(dir: string): Plan {
  const folder = readModelFolder(dir);
  const label = (file: string) => `model folder ${dir}: ${relative(dir, file)}`;
  const iface = (file: string) => {
    let found;
    try {
      found = readOnnxInterface(file);
    } catch (err) {
      throw new Error(`${label(file)} is not a readable ONNX model: ${(err as Error).message}`, { cause: err });
    }
    for (const data of found.externalFiles) {
      const weights = path.resolve(path.dirname(file), data);
      if (!fs.existsSync(weights)) throw new Error(`${label(file)} keeps its weights in ${data}, which is missing: expected ${relative(dir, weights)}`);
    }
    return found;
  };
  const { files } = folder;
  const io = {
    text: checkTextEncoder(label(files.textEncoder), iface(files.textEncoder)),
    unet: checkUNet(label(files.unet), iface(files.unet)),
    decoder: checkVaeDecoder(label(files.vaeDecoder), iface(files.vaeDecoder)),
    encoder: files.vaeEncoder ? checkVaeEncoder(label(files.vaeEncoder), iface(files.vaeEncoder)) : undefined,
  };
  const checker = files.safetyChecker;
  const safety = checker
    ? {
        file: checker,
        io: checkSafetyChecker(label(checker), iface(checker)),
        preprocessing: readClipPreprocessing(folder.featureExtractorConfig, `model folder ${dir}: ${FEATURE_EXTRACTOR_CONFIG}`),
      }
    : undefined;
  try {
    createScheduler('euler', folder.schedulerConfig);
  } catch (err) {
    throw new Error(`${label(files.schedulerConfig)}: ${(err as Error).message}`, { cause: err });
  }

  const fixed = (v: number | string | undefined) => (typeof v === 'number' ? v : undefined);
  const batch = fixed(io.unet.sample.shape[0]);
  if (batch !== undefined) {
    throw new Error(`${label(files.unet)}: input "sample" has a fixed batch size of ${batch}; this pipeline batches images and needs a free batch axis (re-export with a dynamic batch)`);
  }
  const staticH = fixed(io.unet.sample.shape[2]);
  const staticW = fixed(io.unet.sample.shape[3]);
  const latentChannels =
    fixed(io.unet.sample.shape[1]) ?? integerOf(folder.unetConfig?.in_channels) ?? integerOf(folder.vaeConfig?.latent_channels) ?? 4;
  const decoderChannels = fixed(io.decoder.latent.shape[1]);
  if (decoderChannels !== undefined && decoderChannels !== latentChannels) {
    throw new Error(`${label(files.vaeDecoder)}: latent_sample has ${decoderChannels} channels but the UNet's sample has ${latentChannels}`);
  }
  const unetHidden = fixed(io.unet.hidden.shape[2]) ?? integerOf(folder.unetConfig?.cross_attention_dim);
  const textHidden = fixed(io.text.output.shape[2]) ?? integerOf(folder.textEncoderConfig?.hidden_size);
  if (unetHidden !== undefined && textHidden !== undefined && unetHidden !== textHidden) {
    throw new Error(`${label(files.unet)}: encoder_hidden_states has size ${unetHidden} but the text encoder outputs ${textHidden}`);
  }
  let condDim = 0;
  if (io.unet.timestepCond) {
    condDim = fixed(io.unet.timestepCond.shape[1]) ?? integerOf(folder.unetConfig?.time_cond_proj_dim) ?? 0;
    if (!condDim) {
      throw new Error(`${label(files.unet)}: timestep_cond has no fixed size and unet/config.json has no time_cond_proj_dim (expected the guidance embedding size, e.g. 256)`);
    }
  }
  const tokenizer = ClipTokenizer.fromModelDir(files.tokenizerDir);
  const staticSize =
    staticH !== undefined && staticW !== undefined ? { width: staticW * folder.vaeScaleFactor, height: staticH * folder.vaeScaleFactor } : undefined;
  return { folder, io, latentChannels, hiddenSize: unetHidden ?? textHidden, condDim, tokenizer, staticSize, safety };
}

async function createPipeline(dir: string, opts: LoadPipelineOptions, forget: () => void): Promise<Pipeline> {
  const p = plan(dir);
  const { folder, io } = p;
  const logger = opts.logger;
  const maxBatch = opts.maxBatch ?? 4;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`maxBatch must be a positive integer, got ${maxBatch}`);
  const seq = p.tokenizer.maxLength;
  const scale = folder.vaeScaleFactor;
  const tiling = opts.vaeTiling ?? DEFAULT_VAE_TILING;
  let onlySize: RequestLimits['onlySize'];
  if (opts.fixedSize) {
    const { width, height } = opts.fixedSize;
    if (!Number.isInteger(width / scale) || !Number.isInteger(height / scale)) throw new Error(`fixedSize must be a multiple of ${scale}, got ${width}x${height}`);
    if (p.staticSize && (p.staticSize.width !== width || p.staticSize.height !== height)) {
      throw new Error(`fixedSize ${width}x${height} differs from the ${p.staticSize.width}x${p.staticSize.height} that ${folder.name}/unet/model.onnx is exported for`);
    }
    onlySize = { width, height, why: 'this worker was configured to serve one size and' };
  } else if (p.staticSize) {
    onlySize = { ...p.staticSize, why: `${folder.name}/unet/model.onnx is exported with a fixed size and` };
  }
  const lh = onlySize ? onlySize.height / scale : undefined;
  const lw = onlySize ? onlySize.width / scale : undefined;
  // the VAE sees whole images only when they fit in one tile; tiles have another size
  const vaeWhole = lh !== undefined && lw !== undefined && lh <= tiling.tile && lw <= tiling.tile;
  const dims = {
    text: knownDims([io.text.ids], { input_ids: [undefined, seq] }),
    unet: knownDims([io.unet.sample, io.unet.hidden, ...(io.unet.timestepCond ? [io.unet.timestepCond] : [])], {
      sample: [undefined, p.latentChannels, lh, lw],
      encoder_hidden_states: [undefined, seq, p.hiddenSize],
      timestep_cond: [undefined, p.condDim || undefined],
    }),
    decoder: knownDims([io.decoder.latent], { latent_sample: [undefined, p.latentChannels, vaeWhole ? lh : undefined, vaeWhole ? lw : undefined] }),
    encoder: io.encoder
      ? knownDims([io.encoder.image], { sample: [undefined, 3, vaeWhole ? onlySize!.height : undefined, vaeWhole ? onlySize!.width : undefined] })
      : {},
  };
  logger?.debug({ model: folder.name, freeDimensionOverrides: dims }, 'session dimension overrides');

  const clock = new RunClock();
  let providers = resolveProviders(opts.providers);
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
    const textModel = await load(folder.files.textEncoder, dims.text);
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

    const unet = new UNet(unetModel, io.unet, p.latentChannels, p.condDim);
    const vae = new Vae(decoderModel, io.decoder, encoderModel, io.encoder, folder.scalingFactor, folder.vaeScaleFactor, p.latentChannels, tiling);
    const engine: Engine = {
      name: folder.name,
      provider: providers[0],
      prompts: new PromptEncoder(textModel, io.text, p.tokenizer),
      unet,
      vae,
      clock,
      schedulerConfig: folder.schedulerConfig,
      maxBatch,
      logger,
      safety,
    };
    logger?.info(
      {
        model: folder.name,
        dir,
        providers,
        unet: { timestep: `${io.unet.timestep.type} ${io.unet.timestepForm}`, dtype: io.unet.sample.type, lcm: unet.takesGuidanceEmbedding },
        textIds: io.text.ids.type,
        vaeEncoder: io.encoder?.output.name ?? null,
        scalingFactor: folder.scalingFactor,
        upscaler: upscaler ? opts.upscalerDir : null,
        safetyChecker: safety !== undefined,
      },
      'diffusion pipeline loaded',
    );
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
    const limits: RequestLimits = { vaeScale: this.engine.vae.scale, canEncode: this.engine.vae.canEncode, onlySize: this.onlySize };
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

  generateEach(reqs: GenerateRequest[], opts: GenerateOptions[]): Promise<PromiseSettledResult<GenerateResult>[]> {
    try {
      this.check(reqs);
    } catch (err) {
      return Promise.reject(err);
    }
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
