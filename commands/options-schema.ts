/**
 * The /imagine options: one zod schema (the single source of truth for validation, the
 * help text and the README reference table) plus the documentation attached to each field.
 * Limits that come from configuration (max steps, max n, samplers, models) are parameters.
 */
import { z } from 'zod';
import { MAX_SEED } from '../src/jobs.ts';
import type { CommandLimits, Sampler } from './context.ts';

export const MAX_PROMPT_CHARS = 4000;
/** The widest aspect ratio accepted either way (4:1 and 1:4). */
export const MAX_ASPECT = 4;
export const STRENGTH_MIN = 0.05;
export const STRENGTH_MAX = 1;
export const MAX_GUIDANCE = 30;
/** Strong variations and attached images move this far from the source unless told otherwise. */
export const DEFAULT_STRENGTH = 0.6;

export interface OptionDoc {
  /** Inline flag, without dashes; absent for the prompt itself. */
  flag?: string;
  aliases?: readonly string[];
  /** How the value is written, e.g. "W:H". */
  value: string;
  description: string;
  default: string | ((limits: CommandLimits) => string);
  /** Range text for values zod cannot describe by min/max (aspect ratios). */
  range?: string;
  /** The environment variable that sets the upper limit, named in the reference table. */
  limitVariable?: string;
}

export const optionDocs = z.registry<OptionDoc>();

const PROMPT_DOC: OptionDoc = {
  value: 'text',
  description: 'What to draw. Flags go after it; text in double quotes is always prompt text.',
  default: 'required',
};

/** Every option with its documentation, in the order help and the README list them. */
export const OPTION_DOCS = {
  ar: { flag: 'ar', aliases: ['aspect'], value: 'W:H', description: 'Aspect ratio; snapped to a size the model draws (rule above).', default: '1:1', range: `1:${MAX_ASPECT} to ${MAX_ASPECT}:1` },
  seed: { flag: 'seed', value: 'N', description: 'Start from this noise seed to repeat an image.', default: 'random' },
  no: { flag: 'no', value: 'words', description: 'Negative prompt: what to keep out of the image (all words up to the next flag).', default: 'none' },
  steps: { flag: 'steps', value: 'N', description: 'Denoising steps: more is slower and often finer.', default: "the model's (SD: 25)", limitVariable: 'MAX_STEPS' },
  cfg: { flag: 'cfg', aliases: ['guidance'], value: 'X', description: 'Guidance scale: how strictly to follow the prompt.', default: "the model's (SD: 7)" },
  n: { flag: 'n', value: 'N', description: 'How many images to make.', default: (limits) => String(limits.maxN), limitVariable: 'MAX_N' },
  sampler: { flag: 'sampler', value: 'name', description: 'The scheduler that walks the noise down.', default: "the model's (SD: dpmpp_2m)", limitVariable: 'ALLOWED_SAMPLERS' },
  strength: { flag: 'strength', value: 'X', description: 'For variations and attached images: how far to move from the source.', default: String(DEFAULT_STRENGTH) },
  model: { flag: 'model', value: 'name', description: 'Which configured model to use. With none configured: the embedded demo models, `tiny` (Stable Diffusion layout) and `tiny-xl` (SDXL layout), e.g. `--model tiny-xl`.', default: 'the configured default (none configured: tiny)', limitVariable: 'MODELS_CONFIG' },
} as const satisfies Record<string, OptionDoc>;

export type OptionName = keyof typeof OPTION_DOCS;
export const OPTION_NAMES = Object.keys(OPTION_DOCS) as OptionName[];

/** Values as structured options arrive (Discord sends numbers typed, the web and Slack send text). */
export type StructuredOptions = Partial<Record<OptionName, string | number>>;

function nonEmpty<T extends string>(values: readonly T[], what: string): [T, ...T[]] {
  if (values.length === 0) throw new Error(`no ${what} configured`);
  return values as [T, ...T[]];
}

/**
 * The validated shape of /imagine options after inline flags and structured options are merged.
 * Built once per set of limits and models: building a zod schema costs far more than using it,
 * and every command parses with the same one.
 */
export function imagineOptionsSchema(limits: CommandLimits, modelNames: readonly string[]) {
  const key = JSON.stringify([limits.maxSteps, limits.maxN, limits.allowedSamplers, modelNames]);
  let schema = schemaCache.get(key);
  if (!schema) {
    // Limits and catalogs come from configuration, so only a handful of keys ever exist.
    if (schemaCache.size >= 32) schemaCache.clear();
    schema = buildImagineOptionsSchema(limits, modelNames);
    schemaCache.set(key, schema);
  }
  return schema;
}

const schemaCache = new Map<string, ReturnType<typeof buildImagineOptionsSchema>>();

function buildImagineOptionsSchema(limits: CommandLimits, modelNames: readonly string[]) {
  const d = OPTION_DOCS;
  return z.object({
    prompt: z.string().max(MAX_PROMPT_CHARS).register(optionDocs, PROMPT_DOC),
    ar: z.string().optional().register(optionDocs, d.ar),
    seed: z.number().int().min(0).max(MAX_SEED).optional().register(optionDocs, d.seed),
    no: z.string().max(MAX_PROMPT_CHARS).optional().register(optionDocs, d.no),
    steps: z.number().int().min(1).max(limits.maxSteps).optional().register(optionDocs, d.steps),
    cfg: z.number().min(0).max(MAX_GUIDANCE).optional().register(optionDocs, d.cfg),
    n: z.number().int().min(1).max(limits.maxN).optional().register(optionDocs, d.n),
    sampler: z.enum(nonEmpty<Sampler>(limits.allowedSamplers, 'samplers')).optional().register(optionDocs, d.sampler),
    strength: z.number().min(STRENGTH_MIN).max(STRENGTH_MAX).optional().register(optionDocs, d.strength),
    model: z.enum(nonEmpty(modelNames, 'models')).optional().register(optionDocs, d.model),
  });
}

export type ImagineOptionsSchema = ReturnType<typeof imagineOptionsSchema>;
export type ImagineOptions = z.infer<ImagineOptionsSchema>;

/** Inline spelling (lower case, no dashes) -> option name, aliases included. */
export const FLAG_NAMES: ReadonlyMap<string, OptionName> = new Map(
  OPTION_NAMES.flatMap((name) => {
    const doc: OptionDoc = OPTION_DOCS[name];
    return [doc.flag!, ...(doc.aliases ?? [])].map((spelling) => [spelling, name] as const);
  }),
);

/** Options whose value is a number (parsed from text when typed inline). */
export const NUMERIC_OPTIONS: ReadonlySet<OptionName> = new Set(['seed', 'steps', 'cfg', 'n', 'strength']);
