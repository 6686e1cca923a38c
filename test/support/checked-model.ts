/**
 * The embedded demo model with a safety checker added: its files linked (not copied) into a
 * temporary folder beside a `safety_checker/` that flags bright pictures (the mean of CLIP's
 * normalised input above 0) and SD's `feature_extractor/`. What the model draws decides the
 * verdict: "on a white background" is flagged, "on a black background" is not.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TINY_MODEL_DIR } from './tiny-model-check.ts';
import { SD15_PREPROCESSOR_CONFIG, writeTinySafetyChecker } from '../../kit/tiny-sd-models.ts';

export function embeddedModelWithChecker(): { dir: string; remove(): void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'checked-model-'));
  const dir = path.join(root, 'tiny');
  mkdirSync(dir);
  for (const entry of readdirSync(TINY_MODEL_DIR)) if (entry !== 'train') symlinkSync(path.join(TINY_MODEL_DIR, entry), path.join(dir, entry));
  writeTinySafetyChecker(path.join(dir, 'safety_checker'), { threshold: 0 });
  mkdirSync(path.join(dir, 'feature_extractor'));
  writeFileSync(path.join(dir, 'feature_extractor', 'preprocessor_config.json'), JSON.stringify(SD15_PREPROCESSOR_CONFIG));
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}
