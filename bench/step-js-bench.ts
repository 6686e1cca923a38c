/**
 * Critical-path JavaScript per denoising step: the denoise stage's wall time minus the
 * time spent inside the UNet's session.run(), per step, for every sampler, at SD's latent
 * size (4x64x64, a 512 px image) and SDXL's (4x128x128, 1024 px), fp32 and fp16 UNets,
 * n = 1 and n = 4, with CFG (the UNet sees 2n). The UNet is the one-convolution test UNet,
 * so what is left is the loop's own work: tensor building and fp16 conversion, the CFG
 * combine, the scheduler step, step noise, progress.
 *
 * Printed as one table of medians (also returned as figures). Targets (issue 12): 0.35 ms
 * at 64x64 n=1, 1.0 ms at 64x64 n=4, 1.5 ms at 128x128 n=1.
 *
 * onnxruntime-node 1.30 runs session.run() synchronously on the main thread (its promise
 * only defers the call with setImmediate), so no main-thread JavaScript overlaps the UNet:
 * everything measured here is on the critical path. The ancestral samplers' step noise is drawn
 * ahead on a thread (step-noise-prefetch.ts); their rows marked "(noise on main thread)" turn
 * that off, in the same run, for the before/after.
 *
 * The test UNet takes a fraction of a millisecond, a GPU's takes 11 ms (SD 1.5, 512 px) or 50 ms
 * (SDXL, 1024 px) on an H100, and work on other threads (that step noise) has that long to get
 * ahead. So each UNet run is held on the main thread until the H100's step time has passed, as
 * a synchronous GPU run holds it; the hold counts as UNet time, like the run itself.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { loadPipeline, type GenerateRequest, type GenerateResult, type Pipeline } from '../worker/diffusion/index.ts';
import { SCHEDULER_NAMES } from '../worker/diffusion/schedulers/index.ts';
import { stepGenerator } from '../worker/diffusion/noise.ts';
import { PrefetchedNoise, startStepNoiseThread, stepNoiseThreadRunning, useStepNoiseThread } from '../worker/diffusion/step-noise-prefetch.ts';
import { makeTempDir, writeTinyModel } from '../kit/tiny-sd-models.ts';
import type { BenchFigure } from './figure.ts';
import { median } from './stats.ts';

const RUNS = Number(process.env.STEP_JS_RUNS ?? 7);
/** The samplers that inject step noise. */
const ANCESTRAL: GenerateRequest['sampler'][] = ['euler_a', 'lcm'];
const STEPS = 10;
const SIZES = [512, 1024];
const BATCHES = [1, 4];
/** An H100's UNet step with CFG at n=1 (issue 12): what each simulated run lasts at least. */
const DEVICE_MS: Record<number, number> = { 512: 11, 1024: 50 };
/** The limits per step, ms, by latent side and n (no limit set for 128x128 n=4). */
const TARGET_MS: Record<string, number> = { '64 n=1': 0.35, '64 n=4': 1.0, '128 n=1': 1.5 };

/** The loop's own time per step: the denoise stage's wall time minus the UNet's session.run() time. */
const jsPerStepUs = (r: GenerateResult) => ((r.timings.unetMs - (r.timings.unetRunMs ?? 0)) / r.timings.steps) * 1000;

async function measure(pipeline: Pipeline, sampler: GenerateRequest['sampler'], size: number, n: number): Promise<number> {
  const req: GenerateRequest = { prompt: 'a photo of a cat', negativePrompt: 'blurry', seed: 1, steps: STEPS, guidance: 7.5, width: size, height: size, n, sampler };
  await pipeline.generate({ ...req, steps: 2 }); // warm-up: ORT arenas for this shape, compiled loops
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(jsPerStepUs(await pipeline.generate({ ...req, seed: 1 + i * 10 })));
  return median(samples);
}

function printTable(rows: { sampler: string; cells: Map<string, number> }[], columns: string[]): void {
  const header = ['sampler', ...columns];
  const body = rows.map((r) => [r.sampler, ...columns.map((c) => (r.cells.get(c)! / 1000).toFixed(3))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(`\ncritical-path JS per step, ms (median of ${RUNS} runs of ${STEPS} steps, CFG)`);
  console.log([line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n'));
}

/**
 * Makes every UNet run (the session with a `timestep` input) last at least `deviceMs()`,
 * busy on the main thread as a synchronous GPU run is; returns the undo.
 */
function holdUNetRuns(deviceMs: () => number): () => void {
  // a class at run time, typed as its factory
  const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
  const real = proto.run;
  proto.run = async function (this: ort.InferenceSession, ...args: Parameters<typeof real>) {
    const start = performance.now();
    const out = await real.apply(this, args);
    if (this.inputNames.includes('timestep')) blockMainThread(start + deviceMs() - performance.now());
    return out;
  } as typeof real;
  return () => void (proto.run = real);
}

/**
 * Holds the main thread busy the way onnxruntime-node's session.run() does (synchronously; a
 * CUDA run's wait spins too), without allocating: performance.now() returns a new heap number
 * per call, and a loop of nothing but those calls fills the young generation with megabytes per
 * step, whose collections would then land in the loop's figures. So the clock is read only
 * every few microseconds.
 */
function blockMainThread(ms: number): void {
  const end = performance.now() + ms;
  let spins = 0;
  while (performance.now() < end) for (let i = 0; i < 20_000; i++) spins = (spins + i) | 0;
  if (spins === 0.5) throw new Error('unreachable: keeps the spin loop from being optimized away');
}

/**
 * Step noise alone, on a quiet loop: per image and step, what getting a 4x64x64 draw costs the
 * main thread between two 10 ms "UNet runs", drawn there or taken from the thread.
 */
function noiseOnCriticalPath(images: number, prefetched: boolean): number {
  const count = 4 * 64 * 64;
  const local = Array.from({ length: images }, (_, i) => stepGenerator(1 + i));
  const ahead = prefetched ? Array.from({ length: images }, (_, i) => PrefetchedNoise.open(1 + i, count)!) : [];
  const samples: number[] = [];
  for (let step = 0; step < 20; step++) {
    blockMainThread(10);
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < images; i++) {
      const noise = prefetched ? ahead[i].next() : local[i].normal(count);
      sum += noise[0];
      if (prefetched) ahead[i].release();
    }
    samples.push(((performance.now() - t0) * 1000) / images);
    // Read the draws, so none of the work can be skipped.
    if (!Number.isFinite(sum)) throw new Error('step noise is not finite');
  }
  for (const a of ahead) a.stop();
  return median(samples.slice(2));
}

export async function run(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const tmp = makeTempDir('step-js-bench');
  try {
    const dtypes = [
      { label: 'fp32', dir: writeTinyModel(tmp, { name: 'fp32' }) },
      { label: 'fp16', dir: writeTinyModel(tmp, { name: 'fp16', float16: true, timestep: 'float16-scalar' }) },
    ];
    startStepNoiseThread();
    while (!stepNoiseThreadRunning()) await new Promise((r) => setTimeout(r, 50));
    for (const images of [1, 4]) {
      const main = noiseOnCriticalPath(images, false);
      const ahead = noiseOnCriticalPath(images, true);
      figures.push({ name: `step noise per image and step, 4x64x64, n=${images}, drawn ahead on the thread`, value: ahead, unit: 'us', note: `on the main thread: ${main.toFixed(0)} us (same run)` });
    }
    const columns: string[] = [];
    const rows: { sampler: string; name: GenerateRequest['sampler']; thread: boolean; cells: Map<string, number> }[] = SCHEDULER_NAMES.map((name) => ({ sampler: name, name, thread: true, cells: new Map<string, number>() }));
    for (const name of ANCESTRAL) rows.push({ sampler: `${name} (noise on main thread)`, name, thread: false, cells: new Map() });
    let deviceMs = 0;
    const release = holdUNetRuns(() => deviceMs);
    for (const dtype of dtypes) {
      const pipeline = await loadPipeline(dtype.dir, { maxBatch: 4, providers: ['cpu'] });
      for (const size of SIZES) {
        deviceMs = DEVICE_MS[size];
        for (const n of BATCHES) {
          const column = `${size / 8}px ${dtype.label} n=${n}`;
          columns.push(column);
          for (const row of rows) {
            useStepNoiseThread(row.thread);
            const us = await measure(pipeline, row.name, size, n);
            useStepNoiseThread(true);
            row.cells.set(column, us);
            figures.push({ name: `${row.sampler} 4x${size / 8}x${size / 8} ${dtype.label} n=${n}`, value: us / 1000, unit: 'ms', note: `JS per step, median of ${RUNS}` });
          }
          const target = TARGET_MS[`${size / 8} n=${n}`];
          if (target !== undefined) {
            const [slowest, us] = rows.filter((r) => r.thread).map((r) => [r.sampler, r.cells.get(column)!] as const).reduce((a, b) => (b[1] > a[1] ? b : a));
            figures.push({ name: `slowest sampler 4x${size / 8}x${size / 8} ${dtype.label} n=${n} (${slowest})`, value: us / 1000, unit: 'ms', note: `target <= ${target} ms: ${us / 1000 <= target ? 'met' : 'MISSED'}` });
          }
        }
      }
      await pipeline.dispose();
    }
    release();
    printTable(rows, columns);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}
