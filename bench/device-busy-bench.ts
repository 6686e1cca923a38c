/**
 * How much of the time the device is busy when the worker has a backlog: a simulated device
 * (holds "the GPU" for a set time per image, on a timer, no CPU) in place of the pipeline,
 * through the real worker and BullMQ consumer on a private redis-server, with a simulated
 * platform whose uploads take a set time, posted by the delivery side in the same process.
 * For (800 ms device, 400 ms upload) and (300 ms, 1500 ms), batching off and on (4 per call).
 * Busy fraction = time held / span from the first hold to the last (target >= 95%).
 */
import { BullmqJobQueue } from '../src/queue/bullmq-queue.ts';
import { createLogger } from '../src/logger.ts';
import { startWorker } from '../worker/main.ts';
import type { TestRedis } from '../kit/redis-server.ts';
import { tinyModel } from '../kit/worker-fixtures.ts';
import type { BenchFigure } from './figure.ts';
import { benchConfig, fill } from './queue-bench.ts';
import { onPrivateRedis, SimulatedDevice, SleepingPlatform } from './simulated-fleet.ts';

const silent = createLogger({ level: 'silent' });
const CASES = [
  { deviceMs: 800, uploadMs: 400, jobs: 16 },
  { deviceMs: 300, uploadMs: 1500, jobs: 32 },
];

async function busyFraction(redis: TestRedis, deviceMs: number, uploadMs: number, jobs: number, batching: 'on' | 'off'): Promise<number> {
  const catalog = tinyModel().catalog;
  const config = benchConfig(redis, { WORKER_BATCHING: batching, WORKER_MAX_BATCH: '4', WORKER_CONCURRENCY: '1' });
  const queue = new BullmqJobQueue({ config, logger: silent });
  const device = await SimulatedDevice.create(deviceMs);
  const platform = new SleepingPlatform(uploadMs);
  const worker = await startWorker(config, { deliverers: [platform], logger: silent, catalog, loadPipeline: async () => device, http: false, preload: true });
  try {
    await worker.residency.get(catalog.defaultModel.name);
    await fill(queue, jobs, { steps: 2 });
    await platform.done(jobs);
    return device.busyFraction();
  } finally {
    await Promise.all([worker.close(), queue.close()]);
  }
}

export function run(): Promise<BenchFigure[]> {
  return onPrivateRedis(async (redis) => {
    const figures: BenchFigure[] = [];
    for (const c of CASES) {
      for (const batching of ['off', 'on'] as const) {
        const fraction = await busyFraction(redis, c.deviceMs, c.uploadMs, c.jobs, batching);
        figures.push({ name: `device busy, ${c.deviceMs} ms device / ${c.uploadMs} ms upload, batching ${batching}`, value: fraction * 100, unit: '%', note: `${c.jobs} jobs, target >= 95` });
      }
    }
    return figures;
  });
}
