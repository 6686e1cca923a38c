/**
 * Fair turns, measured: 100 jobs from 30 users in 2 servers wait (each user's jobs asked for at
 * once, kit/fair-fixtures.ts), then a new user asks for one image; 4 real workers on
 * simulated devices (JOB_MS a job) and a private Redis drain the queue. Figures: the newcomer's
 * position when queued and its time to start (from the workers' start), first come first served
 * (jobs added to BullMQ without a priority, as before fair turns) against fair turns (the real
 * producer); medians of ROUNDS runs each.
 */
import { createModelCatalog, modelLanes } from '../src/models.ts';
import { BullmqJobQueue } from '../src/queue/bullmq-queue.ts';
import { createLogger } from '../src/logger.ts';
import { burst, jobBy } from '../kit/fair-fixtures.ts';
import type { JobPayload } from '../src/jobs.ts';
import type { TestRedis } from '../kit/redis-server.ts';
import type { BenchFigure } from './figure.ts';
import { fleetConfig, startSimFleet } from './sim-fleet.ts';
import { onPrivateRedis } from './simulated-fleet.ts';
import { median } from './stats.ts';

const WORKERS = 4;
const ROUNDS = 3;
const DEVICE = { jobMs: 100, loadMs: 0 };
const silent = createLogger({ level: 'silent' });
const catalog = createModelCatalog([{ name: 'tiny', dir: '/simulated/tiny', defaultSteps: 4, defaultSampler: 'euler', defaultGuidance: 7, baseSize: 512, sizeMultiple: 8, maxTokens: 75 }]);

/** The shared arrivals ask for 4 images; the simulated device holds `jobMs` per image, so one image makes a job last `jobMs`. */
const oneImage = (p: JobPayload): JobPayload => ({ ...p, params: { ...p.params, n: 1 } });

async function newcomer(redis: TestRedis, fifo: boolean): Promise<{ position: number; startMs: number }> {
  const config = fleetConfig(redis);
  const queue = new BullmqJobQueue({ config, logger: silent, models: modelLanes(catalog) });
  const add = async (payload: ReturnType<typeof jobBy>): Promise<string> => {
    if (fifo) return (await queue.queue.add(payload.kind, payload)).id!;
    const o = await queue.enqueue(payload);
    if (!o.ok) throw new Error(o.message);
    return o.jobId;
  };
  for (const p of burst()) await add(oneImage(p));
  const id = await add(oneImage(jobBy('newbie', 'guild-1', 'newbie #0')));
  const position = (await queue.position(id))!;
  const fleet = await startSimFleet(config, catalog, DEVICE, Array.from({ length: WORKERS }, () => []));
  try {
    await fleet.completed(101);
    const started = fleet.workers.map((w) => w.startedAt.get(id)).find((t) => t !== undefined)!;
    return { position, startMs: started - fleet.t0 };
  } finally {
    await fleet.close();
    await queue.close();
  }
}

export async function run(): Promise<BenchFigure[]> {
  return onPrivateRedis(async (redis) => {
    const fifo: { position: number; startMs: number }[] = [];
    const fair: { position: number; startMs: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      fifo.push(await newcomer(redis, true));
      fair.push(await newcomer(redis, false));
    }
    const note = `100 one-image jobs from 30 users in 2 servers waiting, ${WORKERS} workers, job ${DEVICE.jobMs} ms, median of ${ROUNDS}`;
    return [
      { name: "newcomer's position, first come first served", value: median(fifo.map((x) => x.position)), unit: 'position', note },
      { name: "newcomer's position, fair turns", value: median(fair.map((x) => x.position)), unit: 'position', note: '30 active users: target <= ~31' },
      { name: "newcomer's time to start, first come first served", value: median(fifo.map((x) => x.startMs)), unit: 'ms', note },
      { name: "newcomer's time to start, fair turns", value: median(fair.map((x) => x.startMs)), unit: 'ms', note },
    ];
  });
}
