/**
 * The catalog of models users can pick with `--model`: names, folders and per-model
 * defaults (steps, sampler, guidance, pixel budget). Pure data read from JSON files at
 * start-up; nothing here touches ONNX Runtime.
 *
 * Sources, first match wins:
 *   MODELS_CONFIG  a JSON file { "models": [{ "name", "dir", ...overrides }], "default": "name" }
 *   MODEL_DIR      one model folder
 *   the embedded demo models: models/tiny (the default) and models/tiny-xl when it is there
 * A model folder's own defaults come from `model_index.json` key "imagine", else from
 * `unet/config.json` (sample_size × 8), else its model family's (SD 1.x: 512 px, 25 steps
 * of dpmpp_2m at guidance 7; SDXL: 1024 px, 30 steps at guidance 5).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { EMBEDDED_MODEL_DIR, EMBEDDED_XL_MODEL_DIR, type Config } from './config.ts';
import { STEPS_CEILING } from './jobs.ts';
import { SAMPLERS } from './samplers.ts';
import { detectFamilyIdentity, SD_FAMILY, type FamilySettings } from './model-families.ts';
import type { ModelLanes } from './queue/keys.ts';

/** CLIP reads 77 positions: BOS, 75 prompt tokens, EOS. */
export const PROMPT_TOKEN_LIMIT = 75;

type CatalogDefaults = Omit<ModelInfo, 'name' | 'dir' | 'maxTokens'>;

/** A model family's defaults in the catalog's terms. */
function catalogDefaults(d: FamilySettings): CatalogDefaults {
  return { defaultSteps: d.steps, defaultSampler: d.sampler, defaultGuidance: d.guidance, baseSize: d.baseSize, sizeMultiple: d.sizeMultiple };
}

/** Stable Diffusion 1.x's (the SD family's): what a bare SD folder gets. */
export const SD_DEFAULTS: CatalogDefaults = catalogDefaults(SD_FAMILY.defaults);

const modelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: 'a model name: lower-case letters, digits, ".", "_" or "-", at most 64 characters' });

const defaultsShape = {
  defaultSteps: z.number().int().min(1).max(STEPS_CEILING),
  defaultSampler: z.enum(SAMPLERS),
  defaultGuidance: z.number().min(0).max(30),
  /** Side of the square pixel budget (SD 1.5: 512, SD 2.1: 768). */
  baseSize: z.number().int().min(32).max(2048).multipleOf(8),
  /** Width and height are multiples of this (the VAE's 8 × the UNet's down-sampling). */
  sizeMultiple: z.number().int().min(8).max(256).multipleOf(8),
};

export const modelInfoSchema = z.object({
  name: modelName,
  dir: z.string().min(1),
  ...defaultsShape,
  maxTokens: z.number().int().min(1).max(PROMPT_TOKEN_LIMIT),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

/** The optional "imagine" key of a model folder's model_index.json (snake_case like the rest of that file). */
const folderDefaultsSchema = z.strictObject({
  name: modelName.optional(),
  base_size: defaultsShape.baseSize.optional(),
  size_multiple: defaultsShape.sizeMultiple.optional(),
  default_steps: defaultsShape.defaultSteps.optional(),
  default_sampler: defaultsShape.defaultSampler.optional(),
  default_guidance: defaultsShape.defaultGuidance.optional(),
});

const modelsConfigSchema = z.strictObject({
  models: z
    .array(
      z.strictObject({
        name: modelName,
        dir: z.string().min(1),
        defaultSteps: defaultsShape.defaultSteps.optional(),
        defaultSampler: defaultsShape.defaultSampler.optional(),
        defaultGuidance: defaultsShape.defaultGuidance.optional(),
        baseSize: defaultsShape.baseSize.optional(),
        sizeMultiple: defaultsShape.sizeMultiple.optional(),
      }),
    )
    .min(1),
  default: modelName.optional(),
});

export class ModelCatalogError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'ModelCatalogError';
  }
}

export interface ModelCatalog {
  readonly models: readonly ModelInfo[];
  readonly defaultModel: ModelInfo;
  /** Case-insensitive lookup. */
  get(name: string): ModelInfo | undefined;
  names(): string[];
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelCatalogError(file, code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? String(err)})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelCatalogError(file, `not valid JSON (${(err as Error).message})`);
  }
}

function zodDetail(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue.path.length ? issue.path.join('.') : 'top level';
  return `${where}: ${issue.message}`;
}

type FolderDefaults = Omit<ModelInfo, 'dir' | 'name' | 'maxTokens'> & { name?: string };

/** Defaults a model folder declares for itself (see the module comment for the order). */
export function readModelFolderDefaults(dir: string): FolderDefaults {
  const indexFile = path.join(dir, 'model_index.json');
  const index = readJson(indexFile);
  if (typeof index !== 'object' || index === null || Array.isArray(index)) {
    throw new ModelCatalogError(indexFile, 'expected a JSON object');
  }
  const own = (index as Record<string, unknown>).imagine;
  const parsed = folderDefaultsSchema.safeParse(own ?? {});
  if (!parsed.success) throw new ModelCatalogError(indexFile, `"imagine".${zodDetail(parsed.error)}`);
  const declared = parsed.data;
  const family = catalogDefaults(detectFamilyIdentity(dir, index as Record<string, unknown>).family.defaults);

  let baseSize: number | undefined = declared.base_size;
  const unetConfigFile = path.join(dir, 'unet', 'config.json');
  if (baseSize === undefined && fs.existsSync(unetConfigFile)) {
    const sampleSize = (readJson(unetConfigFile) as { sample_size?: unknown } | null)?.sample_size;
    // The UNet works on latents 8× smaller than the image (the VAE's scale factor).
    if (typeof sampleSize === 'number' && Number.isInteger(sampleSize) && sampleSize > 0) baseSize = sampleSize * 8;
  }
  return {
    name: declared.name,
    baseSize: baseSize ?? family.baseSize,
    sizeMultiple: declared.size_multiple ?? family.sizeMultiple,
    defaultSteps: declared.default_steps ?? family.defaultSteps,
    defaultSampler: declared.default_sampler ?? family.defaultSampler,
    defaultGuidance: declared.default_guidance ?? family.defaultGuidance,
  };
}

/** A name for a folder given without one: its base name, lower-cased, other characters as "-". */
export function modelNameFromDir(dir: string): string {
  const cleaned = path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 64);
  return cleaned || 'model';
}

function modelFromFolder(dir: string, overrides: Partial<ModelInfo> & { name?: string }, sourceFile: string): ModelInfo {
  const folder = readModelFolderDefaults(dir);
  const info = {
    ...folder,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
    name: overrides.name ?? folder.name ?? modelNameFromDir(dir),
    dir,
    maxTokens: PROMPT_TOKEN_LIMIT,
  };
  const parsed = modelInfoSchema.safeParse(info);
  if (!parsed.success) throw new ModelCatalogError(sourceFile, zodDetail(parsed.error));
  return parsed.data;
}

/** Build a catalog from ready model records (also what tests and the web playground use). */
export function createModelCatalog(models: readonly ModelInfo[], defaultName?: string, sourceFile = 'models'): ModelCatalog {
  if (models.length === 0) throw new ModelCatalogError(sourceFile, 'no models configured');
  const byName = new Map<string, ModelInfo>();
  for (const model of models) {
    const info = modelInfoSchema.parse(model);
    if (byName.has(info.name)) throw new ModelCatalogError(sourceFile, `model name "${info.name}" is used twice`);
    byName.set(info.name, info);
  }
  const defaultModel = defaultName === undefined ? models[0] : byName.get(defaultName.toLowerCase());
  if (!defaultModel) throw new ModelCatalogError(sourceFile, `default model "${defaultName}" is not one of ${[...byName.keys()].join(', ')}`);
  return {
    models: [...byName.values()],
    defaultModel: byName.get(defaultModel.name)!,
    get: (name) => byName.get(name.trim().toLowerCase()),
    names: () => [...byName.keys()],
  };
}

/** Read the catalog the environment describes. Throws ModelCatalogError naming the offending file. */
export function loadModelCatalog(
  config: Partial<Pick<Config, 'MODELS_CONFIG' | 'MODEL_DIR'>>,
  embeddedDir: string = EMBEDDED_MODEL_DIR,
  /** more embedded models, offered after the default one when their folder has a model_index.json */
  optionalEmbeddedDirs: readonly string[] = [EMBEDDED_XL_MODEL_DIR],
): ModelCatalog {
  if (config.MODELS_CONFIG) {
    const file = path.resolve(config.MODELS_CONFIG);
    const parsed = modelsConfigSchema.safeParse(readJson(file));
    if (!parsed.success) throw new ModelCatalogError(file, zodDetail(parsed.error));
    // Folders in the file are relative to the file, so a config can travel with its models.
    const models = parsed.data.models.map(({ dir, ...overrides }) => modelFromFolder(path.resolve(path.dirname(file), dir), overrides, file));
    return createModelCatalog(models, parsed.data.default, file);
  }
  if (config.MODEL_DIR) {
    const dir = path.resolve(config.MODEL_DIR);
    return createModelCatalog([modelFromFolder(dir, {}, path.join(dir, 'model_index.json'))], undefined, dir);
  }
  const dirs = [embeddedDir, ...optionalEmbeddedDirs.filter((d) => fs.existsSync(path.join(d, 'model_index.json')))].map((d) => path.resolve(d));
  const models = dirs.map((dir) => modelFromFolder(dir, {}, path.join(dir, 'model_index.json')));
  return createModelCatalog(models, undefined, dirs[0]);
}

/** The catalog's names as the queue routes them: one BullMQ queue per model, the default model's being the plain one. */
export function modelLanes(catalog: ModelCatalog): ModelLanes {
  return { defaultModel: catalog.defaultModel.name, models: catalog.names() };
}

/**
 * The models a worker serves (WORKER_MODELS; empty = every model of the catalog), in catalog
 * order. A name the catalog does not know stops start-up: such a worker would wait forever.
 */
export function servedModels(catalog: ModelCatalog, requested: readonly string[]): ModelInfo[] {
  if (requested.length === 0) return [...catalog.models];
  const unknown = requested.filter((name) => !catalog.get(name));
  if (unknown.length > 0) {
    throw new ModelCatalogError('WORKER_MODELS', `${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the model catalog (${catalog.names().join(', ')})`);
  }
  const wanted = new Set(requested.map((name) => catalog.get(name)!.name));
  return catalog.models.filter((m) => wanted.has(m.name));
}

/** The model a worker loads at start and reports ready on: the catalog's default when it serves it, else its first. */
export function primaryModel(catalog: ModelCatalog, served: readonly ModelInfo[]): string {
  return served.some((m) => m.name === catalog.defaultModel.name) ? catalog.defaultModel.name : served[0].name;
}
