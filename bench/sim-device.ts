/**
 * A simulated GPU for the fleet benches: what the real worker (startWorker, its BullMQ
 * consumer, job runner, artifacts and results) drives in place of a diffusion pipeline, so
 * routing and turn order are measured without a GPU. One device does one thing at a time: a
 * model load holds it for `loadMs` (a timer) and is counted, each image request for `jobMs`.
 */
import sharp from 'sharp';
import type { ModelInfo } from '../src/models.ts';
import type { WorkerPipeline } from '../worker/job-runner.ts';
import type { PipelineLoader } from '../worker/model-residency.ts';

export interface SimulatedDevice {
  loader: PipelineLoader<WorkerPipeline>;
  /** Model loads this device made, by model name. */
  readonly loads: Map<string, number>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function simulatedDevice(opts: { jobMs: number; loadMs: number }): Promise<SimulatedDevice> {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
  const loads = new Map<string, number>();
  // The device's queue of work: a load and a job, or two loads, never overlap.
  let free: Promise<void> = Promise.resolve();
  const hold = (ms: number): Promise<void> => {
    const turn = free.then(() => sleep(ms));
    free = turn;
    return turn;
  };
  const loader = async (model: ModelInfo): Promise<WorkerPipeline> => {
    loads.set(model.name, (loads.get(model.name) ?? 0) + 1);
    await hold(opts.loadMs);
    return {
      providers: ['simulated'],
      async generateEach(reqs, callOpts) {
        const out = [];
        for (const [i, req] of reqs.entries()) {
          const t0 = performance.now();
          await hold(opts.jobMs);
          callOpts[i].onProgress?.({ step: 1, total: 1, elapsedMs: opts.jobMs, stepMs: opts.jobMs, preview: async () => png });
          const timings = { totalMs: performance.now() - t0, textEncodeMs: 0, unetMs: opts.jobMs, vaeMs: 0, ortRunMs: opts.jobMs, steps: 1, batchSize: 1 };
          const images = Array.from({ length: req.n }, (_, k) => ({ png, seed: req.seed + k, width: 8, height: 8 }));
          out.push({ status: 'fulfilled' as const, value: { images, timings, model: model.name, sampler: req.sampler, provider: 'simulated' } });
        }
        return out;
      },
      async upscale(): Promise<never> {
        throw new Error('the simulated device does not upscale');
      },
    };
  };
  return { loader, loads };
}
