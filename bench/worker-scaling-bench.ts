/**
 * Throughput of N workers on one Redis: N separate worker consumers (each its own BullMQ
 * worker, connections and simulated device holding "the GPU" 200 ms per image on a timer), in
 * this process, draining a backlog of 12 jobs per worker, posted by an instant platform. For
 * N = 1, 2, 4, 8: jobs per second from the first hold to the last, and the ratio to N times one
 * worker's rate (target >= 0.95).
 */
import { BullmqJobQueue } from '../src/queue/bullmq-queue.ts';
import { createLogger } from '../src/logger.ts';
import { startWorker, type WorkerHandle } from '../worker/main.ts';
import type { TestRedis } from '../kit/redis-server.ts';
import { tinyModel } from '../kit/worker-fixtures.ts';
import type { BenchFigure } from './figure.ts';
import { benchConfig, fill } from './queue-bench.ts';
import { onPrivateRedis, SimulatedDevice, SleepingPlatform } from './simulated-fleet.ts';

const silent = createLogger({ level: 'silent' });
const DEVICE_MS = 200;
const JOBS_PER_WORKER = 12;
const COUNTS = [1, 2, 4, 8];

async function throughput(redis: TestRedis, workers: number): Promise<number> {
  const catalog = tinyModel().catalog;
  const config = benchConfig(redis, { WORKER_BATCHING: 'off', WORKER_CONCURRENCY: '1' });
  const queue = new BullmqJobQueue({ config, logger: silent });
  const platform = new SleepingPlatform(0);
  const devices: SimulatedDevice[] = [];
  const handles: WorkerHandle[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      const device = await SimulatedDevice.create(DEVICE_MS);
      devices.push(device);
      // Only the first worker posts results: the others are GPU workers holding no platform.
      const handle = await startWorker(config, { ...(i === 0 ? { deliverers: [platform] } : {}), logger: silent, catalog, loadPipeline: async () => device, http: false, preload: true });
      await handle.residency.get(catalog.defaultModel.name);
      handles.push(handle);
    }
    const jobs = workers * JOBS_PER_WORKER;
    await fill(queue, jobs, { steps: 2 });
    await platform.done(jobs);
    const holds = devices.flatMap((d) => d.busy);
    const span = Math.max(...holds.map(([, end]) => end)) - Math.min(...holds.map(([start]) => start));
    return jobs / (span / 1000);
  } finally {
    await Promise.all([...handles.map((h) => h.close()), queue.close()]);
  }
}

export function run(): Promise<BenchFigure[]> {
  return onPrivateRedis(async (redis) => {
    const figures: BenchFigure[] = [];
    let one = 0;
    for (const n of COUNTS) {
      const rate = await throughput(redis, n);
      if (n === 1) one = rate;
      figures.push({ name: `${n} worker${n === 1 ? '' : 's'}, ${DEVICE_MS} ms simulated device per job`, value: rate, unit: 'jobs/s' });
      if (n > 1) figures.push({ name: `${n} workers vs ${n} x one worker`, value: rate / (n * one), unit: 'ratio', note: 'target >= 0.95' });
    }
    return figures;
  });
}
