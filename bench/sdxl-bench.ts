/**
 * The SDXL path's own cost per denoising step at SDXL's latent size (4x128x128, a 1024x1024
 * image), with a UNet that does almost nothing (out_sample = sample x 0.01), so what is
 * measured is the pipeline's JavaScript: building the batch (both CFG halves of
 * sample, hidden states [77, d1 + d2], text_embeds, time_ids), the tensor copies in and out,
 * the guidance mix and the scheduler step. n = 1 and n = 4, with CFG (guidance 5: the UNet
 * sees 2n) and without (guidance 0, Turbo-style: n).
 */
import fs from 'node:fs';
import { loadPipeline, type GenerateRequest, type GenerateResult } from '../worker/diffusion/index.ts';
import { makeTempDir } from '../kit/tiny-sd-models.ts';
import { writeTinyXlModel } from '../kit/tiny-sdxl-models.ts';
import type { BenchFigure } from './figure.ts';
import { median } from './stats.ts';

const RUNS = 3;
const STEPS = 8;
const SIZE = 1024;

/** The loop's own time per step: the denoise stage's wall time minus the UNet's session.run() time. */
const jsPerStepMs = (r: GenerateResult) => (r.timings.unetMs - (r.timings.unetRunMs ?? 0)) / r.timings.steps;
const ortPerStepMs = (r: GenerateResult) => (r.timings.unetRunMs ?? 0) / r.timings.steps;

export async function run(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const tmp = makeTempDir('sdxl-bench');
  try {
    const dir = writeTinyXlModel(tmp, { name: 'bench-xl', minimalUNet: true });
    const pipeline = await loadPipeline(dir, { maxBatch: 4, providers: ['cpu'] });
    for (const n of [1, 4]) {
      for (const guidance of [5, 0]) {
        const req: GenerateRequest = { prompt: 'a lighthouse at dusk', seed: 1, steps: STEPS, guidance, width: SIZE, height: SIZE, n, sampler: 'euler' };
        await pipeline.generate({ ...req, steps: 1 }); // warm-up: ORT arenas, prompt cache
        const results: GenerateResult[] = [];
        for (let i = 0; i < RUNS; i++) results.push(await pipeline.generate({ ...req, seed: 1 + i * 10 }));
        const cfg = guidance > 1 ? 'CFG' : 'no CFG';
        figures.push({
          name: `SDXL 4x128x128 n=${n} ${cfg}: JS per step`,
          value: median(results.map(jsPerStepMs)),
          unit: 'ms',
          note: `UNet batch ${guidance > 1 ? 2 * n : n}; near-empty UNet's session.run ${median(results.map(ortPerStepMs)).toFixed(1)} ms/step; ${STEPS} steps euler, median of ${RUNS}`,
        });
      }
    }
    await pipeline.dispose();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}
