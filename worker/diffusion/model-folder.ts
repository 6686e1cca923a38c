/**
 * Reads and checks an ONNX model folder (the Hugging Face export layout) before any
 * session is created, so a half-copied or hand-edited folder fails with a message that
 * names the file and what it should have held. The folder's model family decides the
 * text-side files it must have and the VAE defaults.
 */
import fs from 'node:fs';
import path from 'node:path';
import { detectFamily, type ModelFamily } from './families/index.ts';

type Json = Record<string, unknown>;

export interface ModelFolder {
  dir: string;
  /** folder basename */
  name: string;
  family: ModelFamily;
  /** why this family: the class name or the folder entry that said so */
  familyReason: string;
  /**
   * Absolute paths: the shared files below, and the family's own (ModelFamily.files keys,
   * e.g. textEncoder, vocab, merges; SDXL adds textEncoder2, vocab2, merges2).
   */
  files: {
    unet: string;
    vaeDecoder: string;
    schedulerConfig: string;
    /** absent: the folder cannot do img2img or hires-fix upscaling */
    vaeEncoder?: string;
    /** absent: images are not checked for NSFW content */
    safetyChecker?: string;
    [familyKey: string]: string | undefined;
  };
  modelIndex: Json;
  schedulerConfig: Json;
  unetConfig?: Json;
  vaeConfig?: Json;
  textEncoderConfig?: Json;
  /** feature_extractor/preprocessor_config.json, read when there is a safety checker to prepare input for */
  featureExtractorConfig?: Json;
  /** latent scaling factor (SD 1.x/2.x: 0.18215, SDXL: 0.13025): the VAE config's, else the family's */
  scalingFactor: number;
  /** decode in float32 (diffusers' force_upcast): the VAE config's, else the family's */
  forceUpcast: boolean;
  /** image pixels per latent pixel (8 for every SD VAE) */
  vaeScaleFactor: number;
  /** the size the model was trained at */
  defaultSize: { width: number; height: number };
}

/** Path relative to the model folder, as messages show it (`unet/model.onnx`). */
export function relative(dir: string, file: string): string {
  return path.relative(dir, file).split(path.sep).join('/');
}

function readJson(dir: string, file: string, expected: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`model folder ${dir}: cannot read ${relative(dir, file)} (expected ${expected}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`model folder ${dir}: ${relative(dir, file)} is not valid JSON (expected ${expected}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`model folder ${dir}: ${relative(dir, file)} holds no JSON object (expected ${expected})`);
  }
  return parsed as Json;
}

function optionalJson(dir: string, file: string, expected: string): Json | undefined {
  return fs.existsSync(file) ? readJson(dir, file, expected) : undefined;
}

function positiveNumber(dir: string, file: string, json: Json | undefined, key: string): number | undefined {
  const v = json?.[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !(v > 0)) {
    throw new Error(`model folder ${dir}: ${relative(dir, file)} has "${key}": ${JSON.stringify(v)} (expected a positive number)`);
  }
  return v;
}

/** Where the safety checker's input preparation is configured, relative to the folder. */
export const FEATURE_EXTRACTOR_CONFIG = 'feature_extractor/preprocessor_config.json';

/** The folder's `safety_checker/model.onnx`, when it has one. */
export function safetyCheckerFile(dir: string): string | undefined {
  const file = path.join(dir, 'safety_checker', 'model.onnx');
  return fs.existsSync(file) ? file : undefined;
}

/** The files every family's folder needs. */
const SHARED_FILES: { key: 'unet' | 'vaeDecoder' | 'schedulerConfig'; rel: string; what: string }[] = [
  { key: 'unet', rel: 'unet/model.onnx', what: 'the UNet exported to ONNX' },
  { key: 'vaeDecoder', rel: 'vae_decoder/model.onnx', what: 'the VAE decoder exported to ONNX' },
  { key: 'schedulerConfig', rel: 'scheduler/scheduler_config.json', what: "the diffusers scheduler's config" },
];

export function readModelFolder(modelDir: string): ModelFolder {
  const dir = path.resolve(modelDir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`model folder ${dir} does not exist or is not a directory`);
  }
  const indexFile = path.join(dir, 'model_index.json');
  if (!fs.existsSync(indexFile)) {
    throw new Error(`model folder ${dir}: missing model_index.json (expected the diffusers pipeline index of an ONNX Stable Diffusion export)`);
  }
  const modelIndex = readJson(dir, indexFile, 'the diffusers pipeline index, a JSON object');

  const { family, reason } = detectFamily(dir, modelIndex);

  const files = {} as ModelFolder['files'];
  const missing: string[] = [];
  for (const { key, rel, what } of [...family.files, ...SHARED_FILES]) {
    const file = path.join(dir, rel);
    if (!fs.existsSync(file)) missing.push(`${rel} (${what})`);
    files[key] = file;
  }
  if (missing.length > 0) throw new Error(`model folder ${dir} (${family.name}, from ${reason}): missing ${missing.join(', ')}`);
  const encoder = path.join(dir, 'vae_encoder', 'model.onnx');
  if (fs.existsSync(encoder)) files.vaeEncoder = encoder;
  const checker = safetyCheckerFile(dir);
  if (checker) files.safetyChecker = checker;
  const featureExtractorConfig = checker
    ? optionalJson(dir, path.join(dir, FEATURE_EXTRACTOR_CONFIG), 'the CLIP image processor config, a JSON object')
    : undefined;

  const schedulerConfig = readJson(dir, files.schedulerConfig, 'the scheduler config, a JSON object of diffusers scheduler fields');
  const unetConfigFile = path.join(dir, 'unet', 'config.json');
  const unetConfig = optionalJson(dir, unetConfigFile, 'the UNet config, a JSON object');
  const textEncoderConfig = optionalJson(dir, path.join(dir, 'text_encoder', 'config.json'), 'the text encoder config, a JSON object');
  // Exports put the AutoencoderKL config beside either half of the VAE (or in vae/).
  let vaeConfigFile: string | undefined;
  let vaeConfig: Json | undefined;
  for (const sub of ['vae_decoder', 'vae_encoder', 'vae']) {
    const file = path.join(dir, sub, 'config.json');
    const json = optionalJson(dir, file, 'the VAE (AutoencoderKL) config, a JSON object');
    if (json && !vaeConfig) {
      vaeConfig = json;
      vaeConfigFile = file;
    }
  }
  const vaeFile = vaeConfigFile ?? path.join(dir, 'vae_decoder', 'config.json');

  const scalingFactor = positiveNumber(dir, vaeFile, vaeConfig, 'scaling_factor') ?? family.defaults.scalingFactor;
  const upcast = vaeConfig?.force_upcast;
  if (upcast !== undefined && typeof upcast !== 'boolean') {
    throw new Error(`model folder ${dir}: ${relative(dir, vaeFile)} has "force_upcast": ${JSON.stringify(upcast)} (expected true or false)`);
  }
  const forceUpcast = upcast ?? family.defaults.forceUpcast;
  const blocks = vaeConfig?.block_out_channels;
  const vaeScaleFactor = Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8;
  // The VAE's sample_size is in pixels; the UNet's in latent pixels.
  const vaeSample = positiveNumber(dir, vaeFile, vaeConfig, 'sample_size');
  const unetSample = positiveNumber(dir, unetConfigFile, unetConfig, 'sample_size');
  const side = vaeSample ?? (unetSample !== undefined ? unetSample * vaeScaleFactor : family.defaults.baseSize);

  return {
    dir,
    name: path.basename(dir),
    family,
    familyReason: reason,
    files,
    modelIndex,
    schedulerConfig,
    unetConfig,
    vaeConfig,
    textEncoderConfig,
    featureExtractorConfig,
    scalingFactor,
    forceUpcast,
    vaeScaleFactor,
    defaultSize: { width: side, height: side },
  };
}
