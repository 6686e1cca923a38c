/**
 * Pipeline overhead: wall time of generate() over the time spent inside onnxruntime's
 * session.run() (1.00 = no overhead at all), for n = 1 and n = 4 at 20 steps, on the
 * generated test models and on the embedded model when it is present. Also the
 * denoising loop's own time per step (everything in the loop that is not the UNet
 * run: batching, CFG, scheduler math, noise) and the process's peak RSS. And what of the time
 * outside ORT still holds the device: decodeEach() (the worker's entry, resolving once the
 * device is done, PNGs and grid encoding afterwards) against generate() (everything inside),
 * measured in the same run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPipeline, type GenerateRequest, type GenerateResult } from '../worker/diffusion/index.ts';
import { makeTempDir, writeTinyModel } from '../kit/tiny-sd-models.ts';
import type { BenchFigure } from './figure.ts';
import { median } from './stats.ts';

const RUNS = 5;
const STEPS = 20;

interface Case {
  label: string;
  dir: string;
  size: number;
}

async function measure(c: Case, n: number, sampler: GenerateRequest['sampler']): Promise<{ wall: number; ort: number; ratio: number; stepUs: number; breakdown: string; deviceOutsideOrt: number }> {
  const pipeline = await loadPipeline(c.dir, { maxBatch: 4, providers: ['cpu'] });
  const req: GenerateRequest = { prompt: 'a photo of a cat', negativePrompt: 'blurry', seed: 1, steps: STEPS, guidance: 7.5, width: c.size, height: c.size, n, sampler };
  await pipeline.generate(req); // warm-up: first runs allocate ORT arenas and fill caches
  const samples: { wall: number; r: GenerateResult }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const r = await pipeline.generate({ ...req, seed: 1 + i * 10 });
    samples.push({ wall: performance.now() - start, r });
  }
  // The device's part only: decodeEach resolves before the files are encoded (awaited after, off the clock).
  const held: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const [outcome] = await pipeline.decodeEach([{ ...req, seed: 1 + i * 10 }], [{}]);
    const heldMs = performance.now() - start;
    if (outcome.status !== 'fulfilled') throw outcome.reason;
    held.push(heldMs - (await outcome.value.result).timings.ortRunMs);
  }
  const wall = median(samples.map((s) => s.wall));
  const ort = median(samples.map((s) => s.r.timings.ortRunMs));
  const ratio = median(samples.map((s) => s.wall / s.r.timings.ortRunMs));
  const stepUs = median(samples.map((s) => ((s.r.timings.unetMs - (s.r.timings.unetRunMs ?? 0)) / s.r.timings.steps) * 1000));
  const t = samples[Math.floor(RUNS / 2)].r.timings;
  const nonOrt = wall - ort;
  const loopJs = t.unetMs - (t.unetRunMs ?? 0);
  const breakdown = `outside ORT ${nonOrt.toFixed(1)} ms: loop ${loopJs.toFixed(1)}, rest (PNG, grid, pre/post) ${(nonOrt - loopJs).toFixed(1)}`;
  return { wall, ort, ratio, stepUs, breakdown, deviceOutsideOrt: median(held) };
}

export async function run(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const tmp = makeTempDir('pipeline-bench');
  try {
    const cases: Case[] = [
      { label: 'test model fp32 64px', dir: writeTinyModel(tmp, { name: 'bench-fp32' }), size: 64 },
      { label: 'test model fp32 512px', dir: path.join(tmp, 'bench-fp32'), size: 512 },
      { label: 'test model fp16 512px', dir: writeTinyModel(tmp, { name: 'bench-fp16', float16: true, timestep: 'float16-scalar' }), size: 512 },
    ];
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const embedded = path.join(root, 'models', 'tiny');
    if (fs.existsSync(path.join(embedded, 'model_index.json')) && fs.existsSync(path.join(embedded, 'unet', 'model.onnx'))) {
      const p = await loadPipeline(embedded, { providers: ['cpu'], maxBatch: 4 });
      cases.push({ label: 'models/tiny', dir: embedded, size: p.defaultSize.width });
    } else {
      figures.push({ name: 'models/tiny', value: NaN, unit: '-', note: 'skipped: models/tiny has no exported model yet' });
    }
    for (const c of cases) {
      for (const n of [1, 4]) {
        const m = await measure(c, n, 'dpmpp_2m');
        figures.push({ name: `${c.label} n=${n} overhead (wall / ORT run)`, value: m.ratio, unit: 'x', note: m.breakdown });
        figures.push({ name: `${c.label} n=${n} generate() wall`, value: m.wall, unit: 'ms', note: `ORT run ${m.ort.toFixed(1)} ms, ${STEPS} steps, dpmpp_2m, CFG` });
        figures.push({ name: `${c.label} n=${n} loop overhead per step`, value: m.stepUs, unit: 'us' });
        figures.push({ name: `${c.label} n=${n} outside ORT while holding the device`, value: m.deviceOutsideOrt, unit: 'ms', note: `decodeEach (worker); generate() holds it ${(m.wall - m.ort).toFixed(1)} ms` });
      }
      // the ancestral sampler draws fresh seeded noise every step for every image
      const a = await measure(c, 4, 'euler_a');
      figures.push({ name: `${c.label} n=4 euler_a loop overhead per step`, value: a.stepUs, unit: 'us', note: 'includes per-step PCG32 noise' });
    }
    figures.push({ name: 'peak RSS', value: process.resourceUsage().maxRSS / 1024, unit: 'MB' });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}
