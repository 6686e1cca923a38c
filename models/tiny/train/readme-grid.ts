// Draws the README grid of an embedded demo model with the product's own diffusion pipeline
// (worker/diffusion) and the model's own defaults, for captions the model never saw in training:
//   npx tsx models/tiny/train/readme-grid.ts                   # models/tiny/train/readme-grid.png
//   npx tsx models/tiny/train/readme-grid.ts models/tiny-xl    # models/tiny-xl/train/readme-grid.png
// Both models hold out the same combinations (heldout.json beside this file), so the grids compare.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelCatalog } from '../../../src/models.ts';
import { loadPipeline, makeGrid } from '../../../worker/diffusion/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.resolve(process.argv[2] ?? path.join(here, '..'));
const held = (JSON.parse(readFileSync(path.join(here, 'heldout.json'), 'utf8')) as { combinations: [string, string, string][] }).combinations;
const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');
// Every third held-out combination: 12 captions, all three shapes.
const prompts = held.filter((_, i) => i % 3 === 0).map(([shape, color, bg]) => `${article(color)} ${color} ${shape} on ${article(bg)} ${bg} background`);

// The defaults the product gives this folder (model_index.json "imagine"; both models: Euler a, 20 steps, guidance 2, 64x64).
const model = loadModelCatalog({ MODEL_DIR: modelDir }).defaultModel;
const pipeline = await loadPipeline(modelDir, { providers: ['cpu'], maxBatch: prompts.length });
const reqs = prompts.map((prompt) => ({
  prompt,
  seed: 1,
  steps: model.defaultSteps,
  guidance: model.defaultGuidance,
  width: model.baseSize,
  height: model.baseSize,
  n: 1,
  sampler: model.defaultSampler,
}));
const results = await pipeline.generateMany(reqs, reqs.map(() => ({})));
const grid = await makeGrid(results.map((r) => r.images[0].png));
const out = path.join(modelDir, 'train', 'readme-grid.png');
writeFileSync(out, grid);
console.log(`${path.relative(process.cwd(), out)} (${model.name}: ${model.defaultSampler}, ${model.defaultSteps} steps, guidance ${model.defaultGuidance}, ${model.baseSize}x${model.baseSize}, seed 1)`);
console.log(prompts.map((p, i) => `${i + 1}. ${p}`).join('\n'));
await pipeline.dispose();
