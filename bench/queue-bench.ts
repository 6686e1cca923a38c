/**
 * The worker around the pipeline, measured on a private Redis:
 *
 * - queue throughput: N jobs drained through the whole worker (payload checks, delivery
 *   ledger, artifacts on disk, stored result, delivery) with a no-op pipeline, against a bare
 *   BullMQ Queue + Worker pair draining N no-op jobs on the same Redis in the same run; the
 *   ratio is what the worker's bookkeeping costs (target >= 0.8). Both sides, concurrency 1,
 *   are timed over their steady state, from the first job finished to the last (completed on
 *   the raw side, delivered on ours), so neither side's start-up counts; after one unmeasured
 *   warm-up drain each, so the side measured first does not pay for JIT warm-up; rounds of
 *   raw, worker, raw, and the median ratio;
 * - added latency: enqueue -> delivered, minus the pipeline's own time, one job at a time on
 *   an idle queue, p50 and p99 (target p99 < 50 ms);
 * - images/s on a real model (the embedded one when present, else the generated test model)
 *   with batching off (1 job per call) and dynamic batching at 4;
 * - RSS over 500 small real jobs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import sharp from 'sharp';
import { EMBEDDED_MODEL_DIR, loadConfig, type Config } from '../src/config.ts';
import type { ArtifactStore } from '../src/artifacts.ts';
import type { Deliverer } from '../src/delivery.ts';
import { imageSeed } from '../src/image-seed.ts';
import type { ArtifactRef } from '../src/jobs.ts';
import { createLogger } from '../src/logger.ts';
import { createModelCatalog, readModelFolderDefaults, type ModelCatalog, type ModelInfo } from '../src/models.ts';
import { BullmqJobQueue } from '../src/queue/bullmq-queue.ts';
import { startWorker, type WorkerHandle } from '../worker/main.ts';
import type { WorkerPipeline } from '../worker/job-runner.ts';
import { loadPipeline } from '../worker/diffusion/index.ts';
import { startRedis, type TestRedis } from '../kit/redis-server.ts';
import { uniquePrefix } from '../kit/queue-prefix.ts';
import { tempDir, tinyModel, txt2imgPayload } from '../kit/worker-fixtures.ts';
import type { BenchFigure } from './figure.ts';

const THROUGHPUT_JOBS = 1000;
const THROUGHPUT_ROUNDS = 3;
const WARMUP_JOBS = 200;
const LATENCY_JOBS = 200;
const RSS_JOBS = 500;
const IMAGE_JOBS = 16;
const silent = createLogger({ level: 'silent' });

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Resolves `done(n)` when n results were delivered; records when each job's result arrived. */
class CountingDeliverer implements Deliverer {
  readonly platform = 'discord' as const;
  delivered = 0;
  readonly deliveredAt = new Map<string, number>();
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  async progress(): Promise<void> {}
  /** A bench post never fails; a failure notice means the bench is broken, not worth a retry. */
  classifyError() {
    return { verdict: 'permanent' } as const;
  }
  async failure(ctx: { jobId: string }, notice: { message: string }): Promise<void> {
    throw new Error(`bench job ${ctx.jobId} failed: ${notice.message}`);
  }
  async result(ctx: { jobId: string }): Promise<{ messageId: string }> {
    this.deliveredAt.set(ctx.jobId, performance.now());
    this.delivered++;
    this.waiters = this.waiters.filter((w) => (this.delivered >= w.n ? (w.resolve(), false) : true));
    return { messageId: `m-${ctx.jobId}` };
  }
  done(n: number): Promise<void> {
    if (this.delivered >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** A pipeline that returns a fixed 8x8 PNG (after `delayMs`), reporting its one step. */
async function noopPipeline(delayMs = 0): Promise<WorkerPipeline & { calls: number; busyMs: number }> {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
  const p = {
    calls: 0,
    busyMs: 0,
    providers: ['none'],
    editsOnly: false,
    async decodeEach(reqs: Parameters<WorkerPipeline['decodeEach']>[0], opts: Parameters<WorkerPipeline['decodeEach']>[1]) {
      const t0 = performance.now();
      p.calls++;
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const out = reqs.map((req, i) => {
        opts[i].onProgress?.({ step: 1, total: 1, elapsedMs: 0, stepMs: 0, preview: async () => png });
        const timings = { totalMs: performance.now() - t0, textEncodeMs: 0, unetMs: 0, vaeMs: 0, ortRunMs: 0, steps: 1, batchSize: reqs.length };
        const result = { images: Array.from({ length: req.n }, (_, k) => ({ png, seed: imageSeed(req.seed, k), width: 8, height: 8 })), timings, model: 'noop', sampler: req.sampler, provider: 'none' };
        return { status: 'fulfilled' as const, value: { result: Promise.resolve(result) } };
      });
      p.busyMs += performance.now() - t0;
      return out;
    },
    async upscale(): Promise<never> {
      throw new Error('not used');
    },
  };
  return p;
}

export function benchConfig(redis: Pick<TestRedis, 'url'>, env: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix('bench'),
    LOG_LEVEL: 'silent',
    ARTIFACT_DIR: tempDir('bench-artifacts'),
    LIMIT_USER_QUEUED: '1000',
    LIMIT_USER_PER_MINUTE: '10000',
    LIMIT_QUEUE_DEPTH: '100000',
    PROGRESS_INTERVAL_MS: '1500',
    ...env,
  });
}

export async function fill(queue: BullmqJobQueue, n: number, params: Parameters<typeof txt2imgPayload>[0] = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    // Spread over users so the per-user limits (a product rule) do not throttle the bench.
    const r = await queue.enqueue(txt2imgPayload({ seed: i, steps: 1, ...params }, { userId: `bench-${i % 50}` }));
    if (!r.ok) throw new Error(r.message);
    ids.push(r.jobId);
  }
  return ids;
}

/** Artifacts in a Map: the worker's bookkeeping without the disk, to show what the disk costs. */
class MemoryArtifacts implements ArtifactStore {
  private readonly files = new Map<string, Buffer>();
  async put(key: string, bytes: Buffer, contentType: string): Promise<ArtifactRef> {
    this.files.set(key, bytes);
    return { key, bytes: bytes.length, contentType };
  }
  async get(key: string): Promise<Buffer | null> {
    return this.files.get(key) ?? null;
  }
  async delete(key: string): Promise<void> {
    this.files.delete(key);
  }
  async sweep(): Promise<number> {
    return 0;
  }
}

async function withWorker<T>(
  config: Config,
  catalog: ModelCatalog,
  pipeline: (m: ModelInfo) => Promise<WorkerPipeline>,
  fn: (w: WorkerHandle, d: CountingDeliverer) => Promise<T>,
  artifacts?: ArtifactStore,
): Promise<T> {
  const deliverer = new CountingDeliverer();
  const worker = await startWorker(config, { deliverers: [deliverer], logger: silent, catalog, loadPipeline: pipeline, http: false, preload: true, artifacts });
  await worker.residency.get(catalog.defaultModel.name);
  try {
    return await fn(worker, deliverer);
  } finally {
    await worker.close();
    fs.rmSync(config.ARTIFACT_DIR, { recursive: true, force: true });
  }
}

/** Jobs per second between the first and the last of these completion times. */
function steadyRate(completedAt: number[]): number {
  return (completedAt.length - 1) / ((completedAt[completedAt.length - 1] - completedAt[0]) / 1000);
}

function median(values: number[]): number {
  return percentile(values, 50);
}

async function rawBullmqThroughput(redis: TestRedis, n: number): Promise<number> {
  const prefix = uniquePrefix('raw');
  const queue = new Queue('raw', { connection: { url: redis.url }, prefix });
  const payload = txt2imgPayload();
  await queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'txt2img', data: { ...payload, params: { ...payload.params, seed: i } }, opts: { removeOnComplete: { count: 1000 } } })));
  const completedAt: number[] = [];
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const worker = new Worker('raw', async () => ({ ok: true }), { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix, concurrency: 1 });
  worker.on('completed', () => completedAt.push(performance.now()) === n && finish());
  await all;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return steadyRate(completedAt);
}

async function workerThroughput(redis: TestRedis, catalog: ModelCatalog, n: number, artifacts?: ArtifactStore): Promise<number> {
  const config = benchConfig(redis);
  const queue = new BullmqJobQueue({ config, logger: silent });
  const noop = await noopPipeline();
  await fill(queue, n);
  // Each job's delivery time: in the steady state one job is delivered per job completed, so the
  // spacing of deliveries is the spacing of completions that the raw side measures.
  const deliveredAt = await withWorker(config, catalog, async () => noop, async (_w, d) => {
    await d.done(n);
    return [...d.deliveredAt.values()].sort((x, y) => x - y);
  }, artifacts);
  await queue.close();
  return steadyRate(deliveredAt);
}

async function addedLatency(redis: TestRedis, catalog: ModelCatalog, n: number): Promise<{ p50: number; p99: number; pipelineMs: number }> {
  const config = benchConfig(redis);
  const queue = new BullmqJobQueue({ config, logger: silent });
  const pipelineMs = 20;
  const noop = await noopPipeline(pipelineMs);
  const added: number[] = [];
  await withWorker(config, catalog, async () => noop, async (_w, d) => {
    for (let i = 0; i < n; i++) {
      const busyBefore = noop.busyMs;
      const t0 = performance.now();
      const r = await queue.enqueue(txt2imgPayload({ seed: i, steps: 1 }, { userId: `bench-${i % 50}` }));
      if (!r.ok) throw new Error(r.message);
      await d.done(i + 1);
      added.push(d.deliveredAt.get(r.jobId)! - t0 - (noop.busyMs - busyBefore));
    }
  });
  await queue.close();
  return { p50: percentile(added, 50), p99: percentile(added, 99), pipelineMs };
}

/** The embedded model when it has been built, else a generated test model (noted in the figures). */
function realModel(): { catalog: ModelCatalog; label: string; size: number } {
  if (fs.existsSync(path.join(EMBEDDED_MODEL_DIR, 'model_index.json'))) {
    const d = readModelFolderDefaults(EMBEDDED_MODEL_DIR);
    const info: ModelInfo = { name: 'tiny', dir: EMBEDDED_MODEL_DIR, defaultSteps: d.defaultSteps, defaultSampler: d.defaultSampler, defaultGuidance: d.defaultGuidance, baseSize: d.baseSize, sizeMultiple: d.sizeMultiple, maxTokens: 75 };
    return { catalog: createModelCatalog([info]), label: 'embedded model', size: d.baseSize };
  }
  return { catalog: tinyModel().catalog, label: 'generated test model (embedded model not built)', size: 256 };
}

async function imagesPerSecond(redis: TestRedis, batching: 'off' | 'on'): Promise<number> {
  const model = realModel();
  const config = benchConfig(redis, { WORKER_BATCHING: batching, WORKER_MAX_BATCH: '4' });
  const queue = new BullmqJobQueue({ config, logger: silent });
  const loader = (m: ModelInfo) => loadPipeline(m.dir, { providers: config.ORT_PROVIDERS.length ? config.ORT_PROVIDERS : undefined, maxBatch: 4 });
  const rate = await withWorker(config, model.catalog, loader, async (_w, d) => {
    // One warm-up job so session start-up is not counted.
    await fill(queue, 1, { steps: 20, width: model.size, height: model.size });
    await d.done(1);
    const t0 = performance.now();
    await fill(queue, IMAGE_JOBS, { steps: 20, width: model.size, height: model.size });
    await d.done(IMAGE_JOBS + 1);
    return IMAGE_JOBS / ((performance.now() - t0) / 1000);
  });
  await queue.close();
  return rate;
}

async function rssOverJobs(redis: TestRedis, n: number): Promise<{ warm: number; after: number }> {
  const model = tinyModel();
  const config = benchConfig(redis);
  const queue = new BullmqJobQueue({ config, logger: silent });
  const out = await withWorker(config, model.catalog, (m) => loadPipeline(m.dir, { providers: ['cpu'] }), async (_w, d) => {
    await fill(queue, 50, { steps: 2 });
    await d.done(50);
    const warm = process.memoryUsage.rss() / 2 ** 20;
    await fill(queue, n - 50, { steps: 2 });
    await d.done(n);
    return { warm, after: process.memoryUsage.rss() / 2 ** 20 };
  });
  await queue.close();
  return out;
}

export async function run(): Promise<BenchFigure[]> {
  const redis = await startRedis();
  try {
    const catalog = tinyModel().catalog;
    // Unmeasured: the first drain in a process pays for compiling BullMQ's and ioredis's paths.
    await rawBullmqThroughput(redis, WARMUP_JOBS);
    await workerThroughput(redis, catalog, WARMUP_JOBS);
    // Raw before and after the worker in each round: both see the same Redis and machine state.
    const rounds: { ours: number; memory: number; raw: number }[] = [];
    for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
      const raw1 = await rawBullmqThroughput(redis, THROUGHPUT_JOBS);
      const ours = await workerThroughput(redis, catalog, THROUGHPUT_JOBS);
      const memory = await workerThroughput(redis, catalog, THROUGHPUT_JOBS, new MemoryArtifacts());
      const raw2 = await rawBullmqThroughput(redis, THROUGHPUT_JOBS);
      rounds.push({ ours, memory, raw: (raw1 + raw2) / 2 });
    }
    const ours = median(rounds.map((r) => r.ours));
    const raw = median(rounds.map((r) => r.raw));
    const ratio = median(rounds.map((r) => r.ours / r.raw));
    const memoryRatio = median(rounds.map((r) => r.memory / r.raw));
    const latency = await addedLatency(redis, catalog, LATENCY_JOBS);
    const batch1 = await imagesPerSecond(redis, 'off');
    const batch4 = await imagesPerSecond(redis, 'on');
    const rss = await rssOverJobs(redis, RSS_JOBS);
    const model = realModel();
    return [
      { name: 'worker throughput (no-op pipeline)', value: ours, unit: 'jobs/s', note: `${THROUGHPUT_JOBS} jobs, concurrency 1, steady state, median of ${THROUGHPUT_ROUNDS}` },
      { name: 'raw BullMQ throughput (no-op)', value: raw, unit: 'jobs/s', note: 'bare Queue + Worker, same Redis, same run' },
      {
        name: 'worker / raw BullMQ',
        value: ratio,
        unit: 'ratio',
        note: `target >= 0.8; rounds ${rounds.map((r) => (r.ours / r.raw).toFixed(3)).join(', ')}`,
      },
      {
        name: 'worker / raw BullMQ, artifacts in memory',
        value: memoryRatio,
        unit: 'ratio',
        note: `diagnostic, not the target: the same worker with a Map for its artifact store (${median(rounds.map((r) => r.memory)).toFixed(0)} jobs/s)`,
      },
      {
        name: 'worker bookkeeping per job',
        value: 1000 / ours - 1000 / raw,
        unit: 'ms',
        note: "Redis commands beyond BullMQ's own (cancel flag, one read, progress, claim, mark) and artifact file writes",
      },
      { name: 'added latency p50', value: latency.p50, unit: 'ms', note: `enqueue -> delivered minus pipeline time, idle queue, ${LATENCY_JOBS} jobs` },
      { name: 'added latency p99', value: latency.p99, unit: 'ms', note: 'target < 50' },
      { name: 'images/s batch 1', value: batch1, unit: 'img/s', note: `${model.label}, ${model.size}px, 20 steps, ${IMAGE_JOBS} jobs` },
      { name: 'images/s dynamic batch 4', value: batch4, unit: 'img/s', note: `same jobs, WORKER_BATCHING=on; speed-up ${(batch4 / batch1).toFixed(2)}x` },
      { name: 'RSS after 50 jobs (warm)', value: rss.warm, unit: 'MB', note: 'generated test model, 64px, 2 steps' },
      { name: `RSS after ${RSS_JOBS} jobs`, value: rss.after, unit: 'MB', note: `growth ${(rss.after - rss.warm).toFixed(1)} MB` },
    ];
  } finally {
    // The private redis-server is an unref'd child: hold the event loop open until it has exited,
    // or the process would end here with the figures unreported.
    const hold = setInterval(() => undefined, 1000);
    await redis.stop().finally(() => clearInterval(hold));
  }
}
