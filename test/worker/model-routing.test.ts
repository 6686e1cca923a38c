/**
 * Model-aware routing with real workers (startWorker, the BullMQ consumer, the real pipeline on
 * a tiny ONNX model catalogued under two names) on a private real Redis: each model's jobs go
 * to its own queue, a worker never takes a job for a model it does not serve, a worker keeps to
 * the model it has loaded while that model has work, takes another model's job when only those
 * wait, and gives way to another model's job that has waited WORKER_MODEL_WAIT_S.
 */
import { promises as fs } from 'node:fs';
import type { Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.ts';
import { loadConfig } from '../../src/root/config.ts';
import type { JobPayload } from '../../src/jobs.ts';
import { createLogger } from '../../src/logger.ts';
import { createModelCatalog, ModelCatalogError, modelLanes, servedModels, type ModelInfo } from '../../src/models.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { startWorker, type WorkerHandle } from '../../worker/main.ts';
import type { WorkerPipeline } from '../../worker/job-runner.ts';
import type { QueueConsumer } from '../../worker/queue-consumer.ts';
import { testConfig } from '../../kit/queue-prefix.ts';
import { RecordingDeliverer } from '../support/recording-deliverer.ts';
import { redisServerAvailable, startRedis, type TestRedis } from '../../kit/redis-server.ts';
import { pipelineLoader, sleep, SLOW_JOB_LIMITS, tempDir, TEST_USER, tinyModel, txt2imgPayload, waitFor } from '../../kit/worker-fixtures.ts';

const haveRedis = redisServerAvailable();
if (!haveRedis) console.warn('model-routing tests SKIPPED: no redis-server on PATH and no REDIS_URL');

const silent = createLogger({ level: 'silent' });
const tiny = tinyModel();
/** One tiny folder under two names: two models to route, each loaded on its own. */
const catalog = createModelCatalog([tiny.info, { ...tiny.info, name: 'tiny-b' }]);

let redis: TestRedis;
beforeAll(async () => {
  if (haveRedis) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function fleet(env: Record<string, string> = {}) {
  const artifactDir = tempDir('routing-artifacts');
  const config = testConfig(redis.url, { LIMIT_USER_QUEUED: '100', LIMIT_USER_PER_MINUTE: '1000', ARTIFACT_DIR: artifactDir, ...SLOW_JOB_LIMITS, ...env }, 'routing');
  const queue = new BullmqJobQueue({ config, logger: silent, models: modelLanes(catalog) });
  cleanups.push(async () => {
    await queue.close();
    await fs.rm(artifactDir, { recursive: true, force: true });
  });
  /** Jobs each worker completed, by its label, in completion order. */
  const completed: Record<string, string[]> = {};
  /**
   * Jobs each worker took, in the order it took them: what routing decides. Completion order can
   * differ, as a job taken while the last one is being stored may be stored first.
   */
  const taken: Record<string, string[]> = {};
  /**
   * The most jobs each worker had in or waiting for its pipeline at once, over all its model
   * queues (jobs that left the pipeline and are only being stored do not count: a worker takes
   * one more job meanwhile, by design).
   */
  const mostInPipeline: Record<string, number> = {};
  /** Jobs each worker has out of the pipeline and not yet completed (being stored). */
  const storing: Record<string, number> = {};
  /** Prompts whose jobs, once out of the pipeline, are not stored until the test lets them go. */
  const holds = new Map<string, Promise<void>>();
  return {
    config,
    queue,
    completed,
    taken,
    mostInPipeline,
    storing,
    async worker(label: string, workerEnv: Record<string, string> = {}): Promise<WorkerHandle> {
      mostInPipeline[label] = 0;
      // Held by BullMQ (active) and, of those, out of the pipeline and only being stored.
      let held = 0;
      storing[label] = 0;
      const note = () => (mostInPipeline[label] = Math.max(mostInPipeline[label], held - storing[label]));
      const load = pipelineLoader();
      const countingLoader = async (model: ModelInfo): Promise<WorkerPipeline> => {
        const real = await load(model);
        return {
          providers: real.providers,
          editsOnly: real.editsOnly,
          upscale: (req, o) => real.upscale(req, o),
          dispose: () => real.dispose?.() ?? Promise.resolve(),
          decodeEach: async (reqs, o) => {
            const settled = await real.decodeEach(reqs, o);
            storing[label] += settled.filter((r) => r.status === 'fulfilled').length;
            return settled.map((r, i) => {
              const hold = holds.get(reqs[i].prompt);
              return r.status === 'fulfilled' && hold ? { status: r.status, value: { ...r.value, result: hold.then(() => r.value.result) } } : r;
            });
          },
        };
      };
      const w = await startWorker({ ...config, WORKER_MODELS: loadConfig(workerEnv).WORKER_MODELS }, {
        deliverers: [new RecordingDeliverer()],
        logger: silent,
        catalog,
        loadPipeline: countingLoader,
        http: false,
      });
      cleanups.push(() => w.close());
      completed[label] = [];
      taken[label] = [];
      for (const bull of (w.consumer as QueueConsumer).workers) {
        bull.on('active', (job: Job) => {
          taken[label].push(job.data.params.prompt);
          held++;
          note();
        });
        bull.on('completed', (job: Job) => {
          held--;
          storing[label]--;
          completed[label].push(job.data.params.prompt);
        });
      }
      return w;
    },
    /** Holds the jobs of this prompt in their storing phase; the returned call lets them go on. */
    hold(prompt: string): () => void {
      let release!: () => void;
      holds.set(prompt, new Promise<void>((r) => (release = r)));
      return release;
    },
    async enqueue(model: string, prompt: string, params: Partial<JobPayload['params']> = {}): Promise<string> {
      const o = await queue.enqueue(txt2imgPayload({ model, prompt, ...params }));
      if (!o.ok) throw new Error(o.message);
      return o.jobId;
    },
  };
}

/** A job that keeps the tiny model busy until the test cancels it. */
const SLOW = { width: 1024, height: 1024, steps: 500, n: 4 };

describe('WORKER_MODELS', () => {
  it('names models of the catalog; an unknown name stops start-up naming it and the catalog', () => {
    expect(loadConfig({ WORKER_MODELS: ' tiny-b , tiny ' }).WORKER_MODELS).toEqual(['tiny-b', 'tiny']);
    expect(() => loadConfig({ WORKER_MODELS: 'has space' })).toThrow(ConfigError);
    expect(servedModels(catalog, []).map((m) => m.name)).toEqual(['tiny', 'tiny-b']);
    expect(servedModels(catalog, ['TINY-B']).map((m) => m.name)).toEqual(['tiny-b']);
    expect(() => servedModels(catalog, ['tiny', 'sdxl'])).toThrow(ModelCatalogError);
    expect(() => servedModels(catalog, ['tiny', 'sdxl'])).toThrow('WORKER_MODELS: "sdxl" is not in the model catalog (tiny, tiny-b)');
  });
});

describe.skipIf(!haveRedis)('routing jobs to workers by model', () => {
  it("each model's jobs wait in its own queue; a worker never takes a job for a model it does not serve", async () => {
    const f = fleet();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await f.enqueue(i % 2 ? 'tiny-b' : 'tiny', `${i % 2 ? 'b' : 'a'}${i}`));
    const lanes = f.queue.keys.lanes;
    expect(lanes.map((l) => [l.name, l.model])).toEqual([
      [f.config.QUEUE_NAME, 'tiny'],
      [`${f.config.QUEUE_NAME}-m-tiny-b`, 'tiny-b'],
    ]);
    expect(await Promise.all(ids.map((id) => f.queue.position(id)))).toEqual([1, 1, 2, 2, 3, 3]); // each model's own line

    const a = await f.worker('a', { WORKER_MODELS: 'tiny' });
    const b = await f.worker('b', { WORKER_MODELS: 'tiny-b' });
    await waitFor('all six jobs', () => f.completed.a.length + f.completed.b.length === 6, 60_000);
    expect(f.completed.a.sort()).toEqual(['a0', 'a2', 'a4']);
    expect(f.completed.b.sort()).toEqual(['b1', 'b3', 'b5']);
    expect(a.residency.loadedNames()).toEqual(['tiny']);
    expect(b.residency.loadedNames()).toEqual(['tiny-b']);
  });

  it("a worker holding one model takes another model's jobs once only those wait, one job at a time over both queues", async () => {
    const f = fleet({ WORKER_MODEL_WAIT_S: '3600', WORKER_BATCHING: 'off' });
    const w = await f.worker('w');
    await waitFor('the default model loaded', () => w.residency.isLoaded('tiny'));
    for (let i = 0; i < 3; i++) await f.enqueue('tiny', `a${i}`);
    for (let i = 0; i < 3; i++) await f.enqueue('tiny-b', `b${i}`);
    await waitFor('the six jobs', () => f.completed.w.length === 6, 60_000);
    expect(f.taken.w).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
    expect(f.completed.w.sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
    expect(w.residency.loadedNames().sort()).toEqual(['tiny', 'tiny-b']);
    // Two model queues share the worker's capacity (WORKER_CONCURRENCY 1, no batching): one job in
    // (or waiting for) the pipeline at a time; more are held only while earlier ones are stored.
    expect(f.mostInPipeline.w).toBe(1);
  });

  it("a job taken while another is being stored starts at once, though it holds the worker's last slot", async () => {
    const f = fleet({ WORKER_MODEL_WAIT_S: '3600', WORKER_BATCHING: 'off' });
    const w = await f.worker('w');
    const consumer = w.consumer as QueueConsumer;
    await waitFor('the default model loaded', () => w.residency.isLoaded('tiny'));
    const letGo = f.hold('first');
    try {
      await f.enqueue('tiny', 'first');
      // Out of the pipeline and being stored: the worker holds one more job meanwhile, and every
      // model queue's BullMQ Worker has a concurrency of two. tiny-b's queue takes b, the last
      // slot, and (with room for one more) fetches again before it starts b.
      await waitFor('the first job being stored', () => f.storing.w === 1);
      // tiny-b's BullMQ Worker woke to the raised concurrency and is back in one blocking fetch.
      const queueB = consumer.workers[1];
      const loopB = (queueB as unknown as { mainLoopQueue: { numTotal(): number; numQueued(): number } }).mainLoopQueue;
      await waitFor("tiny-b's queue fetching with room for two", () => queueB.concurrency === 2 && loopB.numTotal() === 1 && loopB.numQueued() === 0);
      await f.enqueue('tiny-b', 'b');
      await waitFor('b completed while the first job is still being stored', () => f.completed.w.includes('b'), 30_000);
      expect(consumer.activeJobIds).toHaveLength(1);
    } finally {
      letGo();
    }
    await waitFor('the first job completed', () => f.completed.w.length === 2);
    expect(f.completed.w).toEqual(['b', 'first']);
    expect(w.residency.loadedNames().sort()).toEqual(['tiny', 'tiny-b']);
  });

  it('a worker keeps to its loaded model while that model has work, and gives way to a job of another model that waited WORKER_MODEL_WAIT_S', async () => {
    for (const [waitS, expected] of [
      ['3600', ['a1', 'a2', 'a3', 'b']],
      ['1', ['b', 'a1', 'a2', 'a3']],
    ] as const) {
      const f = fleet({ WORKER_MODEL_WAIT_S: waitS });
      const w = await f.worker('w');
      await waitFor('the default model loaded', () => w.residency.isLoaded('tiny'));
      const slow = await f.enqueue('tiny', 'slow', SLOW);
      await waitFor('the slow job running', () => (w.consumer as QueueConsumer).activeJobIds.length === 1);
      await f.enqueue('tiny-b', 'b');
      for (let i = 1; i <= 3; i++) await f.enqueue('tiny', `a${i}`);
      // The slot frees once b has waited past a 1 s bound: the cancelled job stops at its next step.
      await sleep(1500);
      expect(await f.queue.cancel(slow, TEST_USER)).toEqual({ ok: true, state: 'cancelling' });
      await waitFor('four jobs', () => f.completed.w.length === 4, 90_000);
      expect(f.taken.w, `WORKER_MODEL_WAIT_S=${waitS}`).toEqual(['slow', ...expected]);
      expect(f.completed.w.sort()).toEqual(['a1', 'a2', 'a3', 'b']);
      await w.close();
    }
  });
});
