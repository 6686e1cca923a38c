// Draws the grid shown in models/tiny/train/README.md with the product's own diffusion pipeline
// (worker/diffusion) on the shipped model, for captions the model never saw in training:
//   npx tsx models/tiny/train/readme-grid.ts
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPipeline, makeGrid } from '../../../worker/diffusion/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const held = (JSON.parse(readFileSync(path.join(here, 'heldout.json'), 'utf8')) as { combinations: [string, string, string][] }).combinations;
const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');
// Every third held-out combination: 12 captions, all three shapes.
const prompts = held.filter((_, i) => i % 3 === 0).map(([shape, color, bg]) => `${article(color)} ${color} ${shape} on ${article(bg)} ${bg} background`);

const pipeline = await loadPipeline(path.join(here, '..'), { providers: ['cpu'], maxBatch: prompts.length });
// The model's defaults (model_index.json "imagine"): Euler a, 20 steps, guidance 2.
const reqs = prompts.map((prompt) => ({ prompt, seed: 1, steps: 20, guidance: 2, width: 64, height: 64, n: 1, sampler: 'euler_a' as const }));
const results = await pipeline.generateMany(reqs, reqs.map(() => ({})));
const grid = await makeGrid(results.map((r) => r.images[0].png));
writeFileSync(path.join(here, 'readme-grid.png'), grid);
console.log(prompts.map((p, i) => `${i + 1}. ${p}`).join('\n'));
await pipeline.dispose();
