/**
 * Copies of the embedded SDXL-format model (models/tiny-xl) with one conditioning wire broken
 * inside the ONNX graphs, as a pipeline that drops or misroutes an input would break it:
 * the second encoder's pooled `text_embeds` zeroed, either encoder's penultimate hidden states
 * (`hidden_states.2`, the ones SDXL concatenates) zeroed, or the UNet reading `time_ids` with
 * original size and crop top-left swapped. Unchanged files are linked, not copied.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { permuteInput, readOnnxModel, writeOnnxModel, zeroOutput, type OnnxModel } from './onnx-surgery.ts';
import { TINY_XL_MODEL_DIR } from './tiny-model-check.ts';

export interface Ablation {
  name: string;
  /** The model folder component whose model.onnx is edited. */
  component: 'text_encoder' | 'text_encoder_2' | 'unet';
  edit(model: OnnxModel): void;
}

/** time_ids = (original h, original w, crop top, crop left, target h, target w). */
const SWAP_ORIGINAL_AND_CROP = [2, 3, 0, 1, 4, 5];

export const ABLATIONS: readonly Ablation[] = [
  { name: 'text_embeds zeros', component: 'text_encoder_2', edit: (m) => zeroOutput(m, 'text_embeds') },
  { name: "encoder 1's hidden states zeros", component: 'text_encoder', edit: (m) => zeroOutput(m, 'hidden_states.2') },
  { name: "encoder 2's hidden states zeros", component: 'text_encoder_2', edit: (m) => zeroOutput(m, 'hidden_states.2') },
  { name: 'time ids with original size and crop swapped', component: 'unet', edit: (m) => permuteInput(m, 'time_ids', 1, SWAP_ORIGINAL_AND_CROP) },
];

/** A temporary copy of models/tiny-xl with `ablation` applied. */
export function ablatedTinyXl(ablation: Ablation): { dir: string; remove(): void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tiny-xl-ablated-'));
  const dir = path.join(root, 'tiny-xl');
  mkdirSync(dir);
  for (const entry of readdirSync(TINY_XL_MODEL_DIR)) {
    if (entry === 'train') continue;
    if (entry !== ablation.component) {
      symlinkSync(path.join(TINY_XL_MODEL_DIR, entry), path.join(dir, entry));
      continue;
    }
    const src = path.join(TINY_XL_MODEL_DIR, entry);
    mkdirSync(path.join(dir, entry));
    for (const file of readdirSync(src)) if (file !== 'model.onnx') symlinkSync(path.join(src, file), path.join(dir, entry, file));
    const model = readOnnxModel(path.join(src, 'model.onnx'));
    ablation.edit(model);
    writeOnnxModel(path.join(dir, entry, 'model.onnx'), model);
  }
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}
