/**
 * Model-aware routing, measured: 4 real workers on simulated devices (a job holds the device
 * JOB_MS, a model load LOAD_MS) and a private Redis drain 200 jobs, half for each of 2 models,
 * enqueued through the real producer. Figures per run: model loads, and throughput from the
 * workers' start (their first loads included) to the last job; medians of ROUNDS rounds, each
 * round running every configuration once, in the order below.
 *
 * - single model: 200 jobs of one model, the reference (target: routed runs >= 0.9x of it);
 * - before (any worker takes any job): one queue for every model, as before model queues;
 * - routed, one Deployment per model: 2 workers with WORKER_MODELS=a, 2 with b (target loads:
 *   at most one per worker per model);
 * - routed, every worker serves both: each prefers what it has loaded (default model first),
 *   taking the other model's jobs when its own run out or they wait WORKER_MODEL_WAIT_S.
 */
import { createModelCatalog, modelLanes, type ModelInfo } from '../src/models.ts';
import { BullmqJobQueue } from '../src/queue/bullmq-queue.ts';
import { createLogger } from '../src/logger.ts';
import type { TestRedis } from '../kit/redis-server.ts';
import { txt2imgPayload } from '../kit/worker-fixtures.ts';
import type { BenchFigure } from './figure.ts';
import { fleetConfig, startSimFleet } from './sim-fleet.ts';
import { onPrivateRedis } from './simulated-fleet.ts';
import { median } from './stats.ts';

const JOBS = 200;
const WORKERS = 4;
const ROUNDS = 3;
const DEVICE = { jobMs: 100, loadMs: 1500 };
const silent = createLogger({ level: 'silent' });

const model = (name: string): ModelInfo => ({ name, dir: `/simulated/${name}`, defaultSteps: 4, defaultSampler: 'euler', defaultGuidance: 7, baseSize: 512, sizeMultiple: 8, maxTokens: 75 });
const catalog = createModelCatalog([model('sd15'), model('sdxl')]);

interface Run {
  loads: number;
  jobsPerS: number;
}

async function drain(redis: TestRedis, opts: { models: string[]; routed: boolean; workerModels: string[][] }): Promise<Run> {
  const config = fleetConfig(redis, { WORKER_MODEL_WAIT_S: '30' });
  const queue = new BullmqJobQueue({ config, logger: silent, models: opts.routed ? modelLanes(catalog) : undefined });
  for (let i = 0; i < JOBS; i++) {
    const o = await queue.enqueue(txt2imgPayload({ seed: i, model: opts.models[i % opts.models.length] }, { userId: `bench-${i % 50}`, workspaceId: `guild-${i % 3}` }));
    if (!o.ok) throw new Error(o.message);
  }
  const fleet = await startSimFleet(config, catalog, DEVICE, opts.workerModels);
  try {
    await fleet.completed(JOBS);
    const last = Math.max(...fleet.workers.flatMap((w) => w.completedAt));
    return { loads: fleet.loads(), jobsPerS: JOBS / ((last - fleet.t0) / 1000) };
  } finally {
    await fleet.close();
    await queue.close();
  }
}

export async function run(): Promise<BenchFigure[]> {
  return onPrivateRedis(async (redis) => {
    const all = Array.from({ length: WORKERS }, () => [] as string[]);
    const configs = {
      single: { models: ['sd15'], routed: true, workerModels: all },
      before: { models: ['sd15', 'sdxl'], routed: false, workerModels: all },
      split: { models: ['sd15', 'sdxl'], routed: true, workerModels: [['sd15'], ['sd15'], ['sdxl'], ['sdxl']] },
      shared: { models: ['sd15', 'sdxl'], routed: true, workerModels: all },
    };
    const runs: Record<keyof typeof configs, Run[]> = { single: [], before: [], split: [], shared: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of Object.keys(configs) as (keyof typeof configs)[]) runs[name].push(await drain(redis, configs[name]));
    }
    const [single, before, split, shared] = (['single', 'before', 'split', 'shared'] as const).map((name) => ({
      loads: median(runs[name].map((x) => x.loads)),
      jobsPerS: median(runs[name].map((x) => x.jobsPerS)),
    }));
    const note = `${WORKERS} workers, ${JOBS} jobs, job ${DEVICE.jobMs} ms, load ${DEVICE.loadMs} ms, median of ${ROUNDS}`;
    return [
      { name: 'single model: loads', value: single.loads, unit: 'loads', note },
      { name: 'single model: throughput', value: single.jobsPerS, unit: 'jobs/s', note },
      { name: '2 models, before (any worker any job): loads', value: before.loads, unit: 'loads', note: 'one queue for every model' },
      { name: '2 models, before: throughput', value: before.jobsPerS, unit: 'jobs/s', note: `${(before.jobsPerS / single.jobsPerS).toFixed(2)}x single model` },
      { name: '2 models, routed, WORKER_MODELS 2+2: loads', value: split.loads, unit: 'loads', note: 'target <= 1 per worker per model' },
      { name: '2 models, routed, WORKER_MODELS 2+2: throughput', value: split.jobsPerS, unit: 'jobs/s', note: `${(split.jobsPerS / single.jobsPerS).toFixed(2)}x single model (target >= 0.9x)` },
      { name: '2 models, routed, all serve both: loads', value: shared.loads, unit: 'loads', note: 'prefer the loaded model, WORKER_MODEL_WAIT_S 30' },
      { name: '2 models, routed, all serve both: throughput', value: shared.jobsPerS, unit: 'jobs/s', note: `${(shared.jobsPerS / single.jobsPerS).toFixed(2)}x single model` },
    ];
  });
}
