/**
 * What the model catalog knows of each model family without loading one: how a folder is
 * recognized (model_index.json `_class_name` first, then the folder's contents: a
 * `text_encoder_2/` says SDXL, else Stable Diffusion, the layout every older export has)
 * and the family's default picture size and sampling settings. A bot that holds no model
 * weights reads only this. The worker's families (worker/diffusion/families/) are these
 * rows plus the pipeline's half, and a test checks both lists name the same families.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SamplerName } from './samplers.ts';

export interface FamilySettings {
  /** side of the square pixel budget the model was trained at */
  baseSize: number;
  /** width and height are multiples of this */
  sizeMultiple: number;
  steps: number;
  sampler: SamplerName;
  guidance: number;
}

export interface FamilyIdentity {
  /** short name for logs and messages, e.g. `SDXL` */
  readonly name: string;
  /** model_index.json `_class_name` values that name this family */
  readonly classNames: readonly string[];
  /** folder entries that show this family when `_class_name` names none of the families */
  readonly folderMarkers: readonly string[];
  readonly defaults: FamilySettings;
}

/** Stable Diffusion 1.x / 2.x (and LCM-distilled SD UNets). */
export const SD_FAMILY = {
  name: 'SD',
  classNames: [
    'OnnxStableDiffusionPipeline',
    'ORTStableDiffusionPipeline',
    'StableDiffusionPipeline',
    'ORTLatentConsistencyModelPipeline',
    'LatentConsistencyModelPipeline',
  ],
  folderMarkers: [],
  defaults: { baseSize: 512, sizeMultiple: 64, steps: 25, sampler: 'dpmpp_2m', guidance: 7 },
} as const satisfies FamilyIdentity;

/** Stable Diffusion XL: diffusers' default guidance is 5; ~1 MP in multiples of 64 are its training buckets. */
export const SDXL_FAMILY = {
  name: 'SDXL',
  classNames: ['StableDiffusionXLPipeline', 'ORTStableDiffusionXLPipeline'],
  folderMarkers: ['text_encoder_2', 'tokenizer_2'],
  defaults: { baseSize: 1024, sizeMultiple: 64, steps: 30, sampler: 'dpmpp_2m', guidance: 5 },
} as const satisfies FamilyIdentity;

/** Folder markers are tried in this order: a more specific family before the one it extends. */
export const FAMILY_IDENTITIES: readonly FamilyIdentity[] = [SDXL_FAMILY, SD_FAMILY];

export interface DetectedFamilyIdentity {
  family: FamilyIdentity;
  /** why, for messages: `model_index.json _class_name "..."` or the folder entry */
  reason: string;
}

export function detectFamilyIdentity(dir: string, modelIndex: Readonly<Record<string, unknown>>): DetectedFamilyIdentity {
  const className = modelIndex._class_name;
  if (typeof className === 'string') {
    const named = FAMILY_IDENTITIES.find((f) => f.classNames.includes(className));
    if (named) return { family: named, reason: `model_index.json _class_name "${className}"` };
  }
  for (const family of FAMILY_IDENTITIES) {
    const marker = family.folderMarkers.find((m) => fs.existsSync(path.join(dir, m)));
    if (marker) return { family, reason: `the folder has ${marker}/` };
  }
  return { family: SD_FAMILY, reason: 'no other family matched (Stable Diffusion layout)' };
}
