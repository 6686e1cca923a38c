/**
 * The model families the pipeline can run, one row each, and how a folder's family is
 * found: model_index.json `_class_name` first, then the folder's contents (a
 * `text_encoder_2/` says SDXL), else Stable Diffusion, the layout every older export has.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sdFamily } from './sd.ts';
import { sdxlFamily } from './sdxl.ts';
import type { ModelFamily } from './types.ts';

export type { ModelFamily, Conditioning, Conditioner, FamilyDefaults, LatentRgb } from './types.ts';

/** Folder markers are tried in this order: a more specific family before the one it extends. */
export const MODEL_FAMILIES: readonly ModelFamily[] = [sdxlFamily, sdFamily];

export interface DetectedFamily {
  family: ModelFamily;
  /** why, for messages: `model_index.json _class_name "..."` or the folder entry */
  reason: string;
}

export function detectFamily(dir: string, modelIndex: Readonly<Record<string, unknown>>): DetectedFamily {
  const className = modelIndex._class_name;
  if (typeof className === 'string') {
    const named = MODEL_FAMILIES.find((f) => f.classNames.includes(className));
    if (named) return { family: named, reason: `model_index.json _class_name "${className}"` };
  }
  for (const family of MODEL_FAMILIES) {
    const marker = family.folderMarkers.find((m) => fs.existsSync(path.join(dir, m)));
    if (marker) return { family, reason: `the folder has ${marker}/` };
  }
  return { family: sdFamily, reason: 'no other family matched (Stable Diffusion layout)' };
}
