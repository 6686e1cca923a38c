/**
 * A fleet of real workers (startWorker: BullMQ consumer, job runner, artifacts, results) on
 * simulated devices (sim-device.ts) and a private Redis, for the routing and fairness benches.
 * Records when each worker started and finished each job, and the model loads it made.
 */
import fs from 'node:fs';
import type { Job } from 'bullmq';
import { loadConfig, type Config } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import type { ModelCatalog } from '../src/models.ts';
import { startWorker, type WorkerHandle } from '../worker/main.ts';
import type { QueueConsumer } from '../worker/queue-consumer.ts';
import type { TestRedis } from '../kit/redis-server.ts';
import { uniquePrefix } from '../kit/queue-prefix.ts';
import { tempDir } from '../kit/worker-fixtures.ts';
import { simulatedDevice, type LoadingDevice } from './sim-device.ts';

const silent = createLogger({ level: 'silent' });

export function fleetConfig(redis: TestRedis, env: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix('fleet'),
    LOG_LEVEL: 'silent',
    ARTIFACT_DIR: tempDir('fleet-artifacts'),
    LIMIT_USER_QUEUED: '1000',
    LIMIT_USER_PER_MINUTE: '10000',
    LIMIT_QUEUE_DEPTH: '100000',
    WORKER_BATCHING: 'off',
    ...env,
  });
}

export interface SimWorker {
  handle: WorkerHandle;
  device: LoadingDevice;
  /** Job id -> when this worker took it (ms, performance clock). */
  startedAt: Map<string, number>;
  completedAt: number[];
}

export interface SimFleet {
  workers: SimWorker[];
  /** When the workers were asked to start. */
  t0: number;
  /** Resolves once the fleet has completed n jobs. */
  completed(n: number): Promise<void>;
  loads(): number;
  close(): Promise<void>;
}

export async function startSimFleet(
  config: Config,
  catalog: ModelCatalog,
  device: { jobMs: number; loadMs: number },
  /** Each worker's WORKER_MODELS (its length is the fleet size). */
  workerModels: string[][],
): Promise<SimFleet> {
  const devices = await Promise.all(workerModels.map(() => simulatedDevice(device)));
  let done = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  const t0 = performance.now();
  const workers = await Promise.all(
    workerModels.map(async (models, i): Promise<SimWorker> => {
      const handle = await startWorker({ ...config, WORKER_MODELS: models }, { logger: silent, catalog, loadPipeline: devices[i].loader, http: false });
      const w: SimWorker = { handle, device: devices[i], startedAt: new Map(), completedAt: [] };
      for (const bull of (handle.consumer as QueueConsumer).workers) {
        bull.on('active', (job: Job) => w.startedAt.set(job.id!, performance.now()));
        bull.on('completed', () => {
          w.completedAt.push(performance.now());
          done++;
          waiters = waiters.filter((x) => (done >= x.n ? (x.resolve(), false) : true));
        });
      }
      return w;
    }),
  );
  return {
    workers,
    t0,
    completed: (n) => (done >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    loads: () => devices.reduce((sum, d) => sum + [...d.loads.values()].reduce((a, b) => a + b, 0), 0),
    async close() {
      await Promise.all(workers.map((w) => w.handle.close()));
      fs.rmSync(config.ARTIFACT_DIR, { recursive: true, force: true });
    },
  };
}
