/**
 * The model families the pipeline can run, one row each. How a folder's family is
 * recognized is the catalog's half of each family (src/model-families.ts); this finds the
 * pipeline's half of the family recognized.
 */
import { detectFamilyIdentity } from '../../../src/model-families.ts';
import { sdFamily } from './sd.ts';
import { sdxlFamily } from './sdxl.ts';
import type { ModelFamily } from './types.ts';

export type { ModelFamily, Conditioning, Conditioner, FamilyDefaults, LatentRgb } from './types.ts';

/** In the order of src/model-families.ts FAMILY_IDENTITIES (a test checks). */
export const MODEL_FAMILIES: readonly ModelFamily[] = [sdxlFamily, sdFamily];

export interface DetectedFamily {
  family: ModelFamily;
  /** why, for messages: `model_index.json _class_name "..."` or the folder entry */
  reason: string;
}

export function detectFamily(dir: string, modelIndex: Readonly<Record<string, unknown>>): DetectedFamily {
  const { family: identity, reason } = detectFamilyIdentity(dir, modelIndex);
  const family = MODEL_FAMILIES.find((f) => f.name === identity.name);
  if (!family) throw new Error(`model family ${identity.name} has no pipeline in worker/diffusion/families/`);
  return { family, reason };
}
