/**
 * Worker fault scenarios shared by the fault tests on one Redis and on a Redis Cluster: worker
 * processes (worker-child.ts, the real startWorker and process lifecycle) and bot-side delivery
 * processes (delivery-child.ts) on one queue prefix, with results recorded to a file by a
 * recording deliverer. Queue timings are shortened (lock 1 s, stall check every 0.5 s) so
 * recovery takes seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../src/config.ts';
import type { Deliverer } from '../../src/delivery.ts';
import type { JobPayload } from '../../src/jobs.ts';
import { createLogger } from '../../src/logger.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { startWorker, type WorkerHandle } from '../../worker/main.ts';
import { testConfig } from '../../kit/queue-prefix.ts';
import { readDeliveries, type DeliveryEvent } from './recording-deliverer.ts';
import { pipelineLoader, SLOW_JOB_LIMITS, tempDir, tinyModel, txt2imgPayload, waitFor } from '../../kit/worker-fixtures.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-child.ts');
const DELIVERY_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'delivery-child.ts');
const silent = createLogger({ level: 'silent' });

/** Where the scenarios' processes find Redis, and where a test file collects what to undo after each test. */
export interface ScenarioTarget {
  /** A node's URL (the one server, or a cluster node lending nothing but its address). */
  url: string;
  /** REDIS_URL, plus REDIS_CLUSTER_NODES on a cluster: given to every process and config. */
  env: Record<string, string>;
  /** Run (in reverse) after each test by the test file. */
  cleanups: Array<() => Promise<void> | void>;
}

/** The tiny model the worker children load (one per test process). */
export const model = tinyModel();

export interface ChildWorker {
  child: ChildProcess;
  pid: number;
  port: number | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

export interface Scenario {
  env: Record<string, string>;
  config: Config;
  queue: BullmqJobQueue;
  deliveries: string;
  spawnWorker(extra?: Record<string, string>): Promise<ChildWorker>;
  /** A bot-side delivery process (delivery-child.ts) posting to the same recording file. */
  spawnDelivery(extra?: Record<string, string>): Promise<ChildWorker>;
  enqueue(payload: JobPayload): Promise<string>;
  events(jobId: string, type?: DeliveryEvent['type']): DeliveryEvent[];
}

export function scenario(target: ScenarioTarget, label: string, env: Record<string, string> = {}): Scenario {
  const work = tempDir(`faults-${label}`);
  const limits = { LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '10000', LIMIT_QUEUE_DEPTH: '10000' };
  const config = testConfig(target.url, { ...target.env, ...limits, ...SLOW_JOB_LIMITS, ...env }, label);
  const deliveries = path.join(work, 'deliveries.jsonl');
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? work,
    ...target.env,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    ARTIFACT_DIR: path.join(work, 'artifacts'),
    PORT: '0',
    LOG_LEVEL: 'warn',
    ORT_PROVIDERS: 'cpu',
    TEST_MODEL_DIR: model.dir,
    TEST_DELIVERY_FILE: deliveries,
    TEST_LOCK_MS: '1000',
    TEST_STALLED_MS: '500',
    ...SLOW_JOB_LIMITS,
    ...env,
  };
  const queue = new BullmqJobQueue({ config, logger: silent });
  const children: ChildWorker[] = [];
  target.cleanups.push(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await queue.close();
    rmSync(work, { recursive: true, force: true });
  });
  async function spawnChild(script: string, extra: Record<string, string>): Promise<ChildWorker> {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...childEnv, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const ready = await Promise.race([
      waitFor('ready line', () => out.split('\n').map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((l) => l?.ready), 60_000),
      exited.then((e) => { throw new Error(`child exited before ready (${JSON.stringify(e)}):\n${out}`); }),
    ]);
    const w: ChildWorker = { child, pid: ready.pid, port: ready.port ?? null, exited, output: () => out };
    children.push(w);
    return w;
  }
  return {
    env: childEnv,
    config,
    queue,
    deliveries,
    spawnWorker: (extra = {}) => spawnChild(CHILD, extra),
    spawnDelivery: (extra = {}) => spawnChild(DELIVERY_CHILD, extra),
    async enqueue(payload) {
      const r = await queue.enqueue(payload);
      if (!r.ok) throw new Error(r.message);
      return r.jobId;
    },
    events(jobId, type) {
      return readDeliveries(deliveries).filter((e) => e.jobId === jobId && (!type || e.type === type));
    },
  };
}

export async function progressStep(q: BullmqJobQueue, jobId: string): Promise<number> {
  const job = await q.queue.getJob(jobId);
  return (job?.progress as { step?: number } | undefined)?.step ?? 0;
}

export async function state(q: BullmqJobQueue, jobId: string): Promise<string | undefined> {
  return (await q.queue.getJob(jobId))?.getState();
}

/** A job long enough to be caught mid-run (hundreds of steps at 512 px on the tiny model). */
export const slowJob = (extra: Partial<JobPayload['params']> = {}) => txt2imgPayload({ width: 512, height: 512, steps: 300, ...extra });

/**
 * A worker in the test process (the real startWorker, its delivery side posting to `deliverer`)
 * on the tiny model, with a 5 s lock and a stall check every 2 s; closed by the target's cleanups.
 */
export async function inProcessWorker(target: Pick<ScenarioTarget, 'cleanups'>, config: Config, deliverer: Deliverer): Promise<WorkerHandle> {
  const worker = await startWorker(config, {
    deliverers: [deliverer],
    logger: silent,
    catalog: model.catalog,
    loadPipeline: pipelineLoader(),
    http: false,
    lockDurationMs: 5000,
    stalledIntervalMs: 2000,
    // The delivery tasks' locks as short: a write a killed master had not yet replicated (a job
    // or task completion) is then recovered in seconds, not after the default 30 s stall check.
    deliveryLockMs: 5000,
    deliveryStalledMs: 2000,
  });
  target.cleanups.push(() => worker.close());
  return worker;
}
