/**
 * The worker end to end in this process: real Redis (private server), the real BullMQ
 * producer, the real diffusion pipeline on a tiny ONNX model, the filesystem artifact
 * store, and a recording deliverer standing in for the platform.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import type { Config } from '../../src/config.ts';
import { JOB_VERSION, type JobPayload, type JobResult } from '../../src/jobs.ts';
import { averageJobMs } from '../../src/job-durations.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { createLogger } from '../../src/logger.ts';
import { createModelCatalog } from '../../src/models.ts';
import { loadConfig } from '../../src/root/config.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { LocalJobQueue } from '../../src/queue/local-queue.ts';
import { createRedis, closeRedis } from '../../src/redis.ts';
import { ResultStore } from '../../src/results.ts';
import { startWorker, type WorkerDeps, type WorkerHandle } from '../../worker/main.ts';
import type { QueueConsumer } from '../../worker/queue-consumer.ts';
import { DiscordDeliverer } from '../../adapters/discord/deliver.ts';
import { createDiscordRest } from '../../adapters/discord/rest.ts';
import { ChannelPacer } from '../../adapters/slack/channel-pacer.ts';
import { createSlackDeliverer } from '../../adapters/slack/deliver.ts';
import { testConfig } from '../../kit/queue-prefix.ts';
import { RecordingDeliverer, type DeliveryEvent } from '../support/recording-deliverer.ts';
import { redisServerAvailable, startRedis, type TestRedis } from '../../kit/redis-server.ts';
import { pipelineLoader, sleep, SLOW_JOB_LIMITS, tempDir, tinyModel, txt2imgPayload, waitFor } from '../../kit/worker-fixtures.ts';
import { FakeDiscord } from '../support/fake-discord.ts';
import { FakeSlack } from '../../kit/fake-slack.ts';
import { context } from '../support/command-context.ts';
import { decideAction } from '../../commands/result-action.ts';
import { varyRegion } from '../../commands/vary-region.ts';
import type { ActionRef } from '../../src/actions.ts';
import { readPngParameters } from '../../worker/diffusion/images.ts';
import { interactionTokenGrant } from '../../adapters/discord/secret.ts';

/** A job that stays busy for seconds even on the tiny test model (4 images, 500 steps at 1024 px), so a cancel or a 1 s timeout always lands before it could finish. */
const SLOW = { width: 1024, height: 1024, steps: 500, n: 4 };

const haveRedis = redisServerAvailable();
if (!haveRedis) console.warn('worker/flow tests SKIPPED: no redis-server on PATH and no REDIS_URL');

let redis: TestRedis;
const model = tinyModel();
const silent = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

beforeAll(async () => {
  if (haveRedis) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** An artifact store whose writes take 1.5 s (a slow volume or object store). */
class SlowStore extends FsArtifactStore {
  override async put(key: string, bytes: Buffer, contentType: string) {
    await new Promise((r) => setTimeout(r, 1500));
    return super.put(key, bytes, contentType);
  }
}

interface Rig {
  config: Config;
  queue: BullmqJobQueue;
  worker: WorkerHandle;
  deliverer: RecordingDeliverer;
  artifactDir: string;
  results: ResultStore;
  kv: RedisKeyValueStore;
  close(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  await Promise.all(rigs.splice(0).map((r) => r.close()));
});

async function rig(env: Record<string, string> = {}, deps: Partial<WorkerDeps> = {}, deliverer = new RecordingDeliverer()): Promise<Rig> {
  const artifactDir = tempDir('worker-artifacts');
  const config = testConfig(redis.url, { LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '10000', PROGRESS_INTERVAL_MS: '0', ARTIFACT_DIR: artifactDir, ...SLOW_JOB_LIMITS, ...env }, 'flow');
  const queue = new BullmqJobQueue({ config, logger: silent });
  const worker = await startWorker(config, { deliverers: [deliverer], logger: silent, catalog: model.catalog, loadPipeline: pipelineLoader(), http: false, ...deps });
  const kvRedis = createRedis(redis.url, { role: 'client', logger: silent });
  const kv = RedisKeyValueStore.fromConfig(kvRedis, config);
  const results = new ResultStore(kv);
  const r: Rig = {
    kv,
    config,
    queue,
    worker,
    deliverer,
    artifactDir,
    results,
    async close() {
      await worker.close();
      await queue.close();
      await closeRedis(kvRedis);
      await fs.rm(artifactDir, { recursive: true, force: true });
    },
  };
  rigs.push(r);
  return r;
}

async function enqueue(r: Rig, payload: JobPayload): Promise<string> {
  const out = await r.queue.enqueue(payload);
  if (!out.ok) throw new Error(out.message);
  return out.jobId;
}

function eventsFor(r: Rig, jobId: string, type?: DeliveryEvent['type']): DeliveryEvent[] {
  return r.deliverer.events.filter((e) => e.jobId === jobId && (!type || e.type === type));
}

async function delivered(r: Rig, jobId: string): Promise<Extract<DeliveryEvent, { type: 'result' }>> {
  return (await waitFor(`result of ${jobId}`, () => eventsFor(r, jobId, 'result')[0])) as Extract<DeliveryEvent, { type: 'result' }>;
}

async function failed(r: Rig, jobId: string): Promise<Extract<DeliveryEvent, { type: 'failure' }>> {
  return (await waitFor(`failure of ${jobId}`, () => eventsFor(r, jobId, 'failure')[0])) as Extract<DeliveryEvent, { type: 'failure' }>;
}

async function jobState(r: Rig, jobId: string) {
  const job = await r.queue.queue.getJob(jobId);
  return { state: await job?.getState(), attemptsMade: job?.attemptsMade, failedReason: job?.failedReason, progress: job?.progress, returnvalue: job?.returnvalue as JobResult | undefined };
}

describe.skipIf(!haveRedis)('worker flow', () => {
  it('txt2img: generated, stored (artifacts + result with the same TTL), delivered once, progress every step', async () => {
    const r = await rig({ RESULT_TTL_DAYS: '2' });
    const jobId = await enqueue(r, txt2imgPayload({ n: 2, seed: 1234, steps: 6 }));
    const event = await delivered(r, jobId);
    expect(event.seeds).toEqual([1234, 1235]);
    expect(event.images).toBe(2);
    expect(event.flagged).toBeUndefined(); // this folder has no safety checker

    const stored = (await r.results.get(event.resultId))!;
    expect(stored.jobId).toBe(jobId);
    expect(stored.messageId).toBe(`msg-${jobId}`);
    expect(stored.images.map((i) => [i.artifact.key, i.width, i.height])).toEqual([
      [`${event.resultId}/0.png`, 64, 64],
      [`${event.resultId}/1.png`, 64, 64],
    ]);
    expect(stored.grid?.key).toBe(`${event.resultId}/grid.png`);
    expect(stored.provider).toBe('cpu');
    // The job's time feeds the average that queued jobs' waiting times come from, on every platform.
    const average = await waitFor('the recorded job time', async () => averageJobMs(r.kv));
    expect(average).toBeGreaterThan(0);
    // The grid is a real 2-image PNG (1x2 layout) on disk.
    const grid = await fs.readFile(path.join(r.artifactDir, event.resultId, 'grid.png'));
    expect(await sharp(grid).metadata()).toMatchObject({ format: 'png', width: 128, height: 64 });
    expect(event.gridBytes).toBe(grid.length);
    // Result parameters expire with the configured TTL (2 days).
    const ttlMs = await (r.queue.redis).pttl(`${r.config.QUEUE_PREFIX}:kv:result:${event.resultId}`);
    expect(ttlMs).toBeGreaterThan(2 * 86_400_000 - 60_000);
    expect(ttlMs).toBeLessThanOrEqual(2 * 86_400_000);

    const st = await waitFor('completed', async () => ((await jobState(r, jobId)).state === 'completed' ? jobState(r, jobId) : null));
    expect(st.progress).toMatchObject({ step: 6, total: 6 });
    expect(st.returnvalue?.resultId).toBe(event.resultId);
    // PROGRESS_INTERVAL_MS=0: chat edits go out as fast as the platform answers, in order, never for the last step.
    const chatSteps = eventsFor(r, jobId, 'progress').map((e) => (e as { step: number }).step);
    expect(chatSteps.length).toBeGreaterThan(0);
    expect(chatSteps).toEqual([...chatSteps].sort((a, b) => a - b));
    expect(Math.max(...chatSteps)).toBeLessThan(6);
    await new Promise((res) => setTimeout(res, 200));
    expect(eventsFor(r, jobId, 'result')).toHaveLength(1);

    // What /metrics shows for it.
    const scrape = await r.worker.metrics.render();
    expect(scrape).toMatch(/^imagine_jobs_completed_total\{kind="txt2img"\} 1$/m);
    expect(scrape).toMatch(/^imagine_model_provider\{model="tiny",provider="cpu"\} 1$/m);
    expect(scrape).toMatch(/^imagine_models_loaded 1$/m);
    expect(scrape).toMatch(/^imagine_step_seconds_count\{model="tiny"\} [1-6]$/m);
    expect(scrape).toMatch(/^imagine_job_seconds_count\{kind="txt2img"\} 1$/m);
    expect(scrape).toMatch(/^imagine_queue_jobs\{state="completed"\} 1$/m);
    expect(scrape).toMatch(/^imagine_queue_jobs\{state="waiting"\} 0$/m);
    expect(scrape).toMatch(/^imagine_deliveries_total\{platform="discord",outcome="posted"\} 1$/m);
  });

  it('variations and upscale read the source image through the stored result', async () => {
    const r = await rig();
    const first = await delivered(r, await enqueue(r, txt2imgPayload({ n: 2, seed: 7, steps: 4 })));
    const source = (await r.results.get(first.resultId))!;
    const base = { v: JOB_VERSION, origin: source.origin, createdAt: Date.now(), parentResultId: source.resultId, source: { resultId: source.resultId, index: 1 } };

    const strong = await delivered(r, await enqueue(r, { ...base, kind: 'variation', mode: 'strong', strength: 0.6, params: { ...source.params, n: 1, seed: 99, steps: 10 } } as JobPayload));
    const subtle = await delivered(r, await enqueue(r, { ...base, kind: 'variation', mode: 'subtle', strength: 1, blendSeed: 5, blendAmount: 0.25, params: { ...source.params, n: 1, seed: 8 } } as JobPayload));
    const up = await delivered(r, await enqueue(r, { ...base, kind: 'upscale', factor: 2, params: { ...source.params, n: 1, seed: 8, steps: 10 } } as JobPayload));

    expect(strong.seeds).toEqual([99]);
    expect(subtle.seeds).toEqual([8]);
    const upscaled = (await r.results.get(up.resultId))!;
    expect(upscaled.kind).toBe('upscale');
    expect(upscaled.parentResultId).toBe(source.resultId);
    expect(upscaled.images[0]).toMatchObject({ width: 128, height: 128 });
    // The subtle variation of image 2 (seed 8) blends toward seed 5: not the same picture as image 2 itself.
    const store = new FsArtifactStore(r.artifactDir);
    const original = await store.get(source.images[1].artifact.key);
    const blended = await store.get((await r.results.get(subtle.resultId))!.images[0].artifact.key);
    expect(blended!.equals(original!)).toBe(false);
  });

  it('a source that expired fails at once with a user message and no retry', async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    const jobId = await enqueue(r, {
      ...txt2imgPayload(),
      kind: 'upscale',
      factor: 2,
      source: { resultId: 'r-gone', index: 0 },
    } as JobPayload);
    const notice = await failed(r, jobId);
    expect(notice).toMatchObject({ message: 'The image this was made from has expired or was deleted, so it cannot be used any more. Run /imagine again.', retry: false });
    const st = await waitFor('failed', async () => ((await jobState(r, jobId)).state === 'failed' ? jobState(r, jobId) : null));
    expect(st.attemptsMade).toBe(1);
  });

  it('cancel of an active job stops it at the next step; the message says cancelled; no retry', async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    const jobId = await enqueue(r, txt2imgPayload(SLOW));
    await waitFor('job running', async () => ((((await jobState(r, jobId)).progress as { step?: number } | undefined)?.step ?? 0) >= 2));
    const t0 = Date.now();
    expect(await r.queue.cancel(jobId, 'u-100')).toEqual({ ok: true, state: 'cancelling' });
    const notice = await failed(r, jobId);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(notice).toMatchObject({ message: 'Cancelled.', cancelled: true, retry: false });
    const st = await waitFor('failed', async () => ((await jobState(r, jobId)).state === 'failed' ? jobState(r, jobId) : null));
    expect(st.attemptsMade).toBe(1);
    expect((st.progress as { step: number }).step).toBeLessThan(500);
    expect(eventsFor(r, jobId, 'result')).toHaveLength(0);
    // The flag is cleared once the job has stopped.
    expect(await r.queue.isCancelRequested(jobId)).toBe(false);
  });

  it('a job past its timeout fails with a clear message (and a Retry), not retried', async () => {
    const r = await rig({ JOB_TIMEOUT_S: '1', JOB_ATTEMPTS: '3' });
    const jobId = await enqueue(r, txt2imgPayload(SLOW));
    const notice = await failed(r, jobId);
    expect(notice).toMatchObject({ message: 'This took longer than the 1 s limit and was stopped. Try fewer steps, a smaller size or fewer images.', retry: true, cancelled: false });
    const st = await waitFor('failed', async () => ((await jobState(r, jobId)).state === 'failed' ? jobState(r, jobId) : null));
    expect(st.attemptsMade).toBe(1);
    expect(st.failedReason).toBe('job exceeded its 1 s timeout');
  });

  it('an invalid payload fails without retries, with a user message', async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    // Written straight to BullMQ, as an older or foreign producer might.
    const raw = new Queue(r.config.QUEUE_NAME, { connection: { url: redis.url }, prefix: r.config.QUEUE_PREFIX });
    const bad = { ...txt2imgPayload(), params: { ...txt2imgPayload().params, steps: -3 } };
    const job = await raw.add('txt2img', bad, { attempts: 3 });
    const old = await raw.add('txt2img', { ...txt2imgPayload(), v: 0 }, { attempts: 3 });
    await raw.close();
    expect((await failed(r, job.id!)).message).toBe('This request is malformed and cannot be run. Please send it again.');
    expect((await failed(r, old.id!)).message).toBe('This request was made by a different version of the bot and cannot be run. Please send it again.');
    const st = await waitFor('failed', async () => ((await jobState(r, job.id!)).state === 'failed' ? jobState(r, job.id!) : null));
    expect(st.attemptsMade).toBe(1);
  });

  it('a job past the limits (MAX_STEPS, MAX_N, the model size budget) fails once before the pipeline runs, saying which limit, with no Retry', async () => {
    // The tiny model catalogued with a 64 px budget (at most 6,144 pixels), as the embedded model is.
    const small = createModelCatalog([{ ...model.info, baseSize: 64 }]);
    const r = await rig({ JOB_ATTEMPTS: '3', MAX_STEPS: '50', MAX_N: '2' }, { catalog: small });
    // Written straight to BullMQ, as another producer (or anyone who can write to Redis) might.
    const raw = new Queue(r.config.QUEUE_NAME, { connection: { url: redis.url }, prefix: r.config.QUEUE_PREFIX });
    const steps = await raw.add('txt2img', txt2imgPayload({ steps: 500 }), { attempts: 3 });
    const many = await raw.add('txt2img', txt2imgPayload({ n: 4 }), { attempts: 3 });
    const huge = await raw.add('txt2img', txt2imgPayload({ width: 1024, height: 1024, steps: 50, n: 2 }), { attempts: 3 });
    await raw.close();
    const good = await enqueue(r, txt2imgPayload({ seed: 12, steps: 50, n: 2 }));
    expect(await failed(r, steps.id!)).toMatchObject({ message: 'This request asks for 500 steps; the most allowed here is 50. Run /imagine again within the limits.', retry: false, cancelled: false });
    expect(await failed(r, many.id!)).toMatchObject({ message: 'This request asks for 4 images; the most allowed here is 2. Run /imagine again within the limits.', retry: false });
    expect(await failed(r, huge.id!)).toMatchObject({
      message: 'The size 1024x1024 is larger than the model tiny draws (at most 6144 pixels, e.g. 64x64). Run /imagine again within the limits.',
      retry: false,
    });
    for (const id of [steps.id!, many.id!, huge.id!]) {
      const st = await waitFor('failed', async () => ((await jobState(r, id)).state === 'failed' ? jobState(r, id) : null));
      expect(st.attemptsMade).toBe(1);
      // Refused before any work: no step ran, no progress was posted.
      expect(st.progress).toBe(0);
      expect(eventsFor(r, id, 'progress')).toHaveLength(0);
    }
    expect((await jobState(r, huge.id!)).failedReason).toContain('size 1024x1024 > 6144 pixels');
    // The limits' own maxima still run.
    expect((await delivered(r, good)).seeds).toEqual([12, 13]);
  });

  it("a time budget in the job data is ignored: the worker's JOB_TIMEOUT_S applies (1e13 ms used to time out at once)", async () => {
    const r = await rig({ JOB_ATTEMPTS: '1', JOB_TIMEOUT_S: '600' });
    const raw = new Queue(r.config.QUEUE_NAME, { connection: { url: redis.url }, prefix: r.config.QUEUE_PREFIX });
    const overflow = await raw.add('txt2img', { ...txt2imgPayload({ seed: 21 }), timeoutMs: 1e13 });
    const tiny = await raw.add('txt2img', { ...txt2imgPayload({ seed: 22 }), timeoutMs: 1 });
    await raw.close();
    expect((await delivered(r, overflow.id!)).seeds).toEqual([21]);
    expect((await delivered(r, tiny.id!)).seeds).toEqual([22]);
    expect(eventsFor(r, overflow.id!, 'failure')).toHaveLength(0);
    expect(eventsFor(r, tiny.id!, 'failure')).toHaveLength(0);
  });

  it('an unusable start image (a key outside the store, a directory, a text file, a truncated PNG) fails once with a clear notice and no Retry', async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    await fs.mkdir(path.join(r.artifactDir, 'uploads', 'folder'), { recursive: true });
    await fs.writeFile(path.join(r.artifactDir, 'uploads', 'notes.png'), 'root:x:0:0:root:/root:/bin/bash\n');
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'black', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    await fs.writeFile(path.join(r.artifactDir, 'uploads', 'cut.png'), png.subarray(0, Math.floor(png.length / 2)));
    await fs.writeFile(path.join(r.artifactDir, 'uploads', 'whole.png'), png);
    const withImage = (artifactKey: string, seed: number) => ({ ...txt2imgPayload({ seed }), initImage: { artifactKey, strength: 0.6 } });
    const raw = new Queue(r.config.QUEUE_NAME, { connection: { url: redis.url }, prefix: r.config.QUEUE_PREFIX });
    const traversal = await raw.add('txt2img', withImage('../../etc/passwd', 1), { attempts: 3 });
    const folder = await raw.add('txt2img', withImage('uploads/folder', 2), { attempts: 3 });
    const text = await raw.add('txt2img', withImage('uploads/notes.png', 3), { attempts: 3 });
    const cut = await raw.add('txt2img', withImage('uploads/cut.png', 4), { attempts: 3 });
    await raw.close();
    const whole = await enqueue(r, withImage('uploads/whole.png', 5));

    const unusable = 'The attached image could not be read as an image, so it cannot be used. Attach another image.';
    for (const id of [traversal.id!, folder.id!, text.id!, cut.id!]) expect(await failed(r, id)).toMatchObject({ message: unusable, retry: false, cancelled: false });
    for (const id of [traversal.id!, folder.id!, text.id!, cut.id!]) {
      const st = await waitFor('failed', async () => ((await jobState(r, id)).state === 'failed' ? jobState(r, id) : null));
      expect(st.attemptsMade).toBe(1);
      expect(eventsFor(r, id, 'failure')).toHaveLength(1);
    }
    expect((await jobState(r, traversal.id!)).failedReason).toContain('invalid artifact key "../../etc/passwd"');
    expect((await jobState(r, folder.id!)).failedReason).toContain('(EISDIR)');
    expect((await jobState(r, text.id!)).failedReason).toContain('does not decode as an image');
    expect((await jobState(r, cut.id!)).failedReason).toContain('does not decode as an image');
    // A whole image still works as a start image.
    expect((await delivered(r, whole)).seeds).toEqual([5]);
  });

  it("a variation whose stored source names a file outside the store, or an upscale of an image too large, fails once with no Retry", async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    const first = await delivered(r, await enqueue(r, txt2imgPayload({ seed: 7 })));
    const source = (await r.results.get(first.resultId))!;
    // A stored result tampered with in Redis.
    await r.results.save({ ...source, images: [{ ...source.images[0], artifact: { ...source.images[0].artifact, key: '../../../etc/passwd' } }] }, 3600);
    const jobId = await enqueue(r, {
      v: JOB_VERSION,
      kind: 'variation',
      origin: source.origin,
      createdAt: Date.now(),
      parentResultId: source.resultId,
      source: { resultId: source.resultId, index: 0 },
      mode: 'strong',
      strength: 0.6,
      params: { ...source.params, seed: 99 },
    } as JobPayload);
    expect(await failed(r, jobId)).toMatchObject({ message: 'The image this was made from could not be read, so it cannot be used. Run /imagine again.', retry: false });
    const st = await waitFor('failed', async () => ((await jobState(r, jobId)).state === 'failed' ? jobState(r, jobId) : null));
    expect(st.attemptsMade).toBe(1);
    expect(st.failedReason).toContain('invalid artifact key');

    // An upscale is held to the image's real size, whatever the stored parameters say.
    await fs.writeFile(path.join(r.artifactDir, source.resultId, 'big.png'), await sharp({ create: { width: 2100, height: 1200, channels: 3, background: 'gray' } }).png().toBuffer());
    await r.results.save({ ...source, images: [{ ...source.images[0], artifact: { ...source.images[0].artifact, key: `${source.resultId}/big.png` } }] }, 3600);
    const up = await enqueue(r, {
      v: JOB_VERSION,
      kind: 'upscale',
      origin: source.origin,
      createdAt: Date.now(),
      parentResultId: source.resultId,
      source: { resultId: source.resultId, index: 0 },
      factor: 2,
      params: source.params,
    } as JobPayload);
    expect(await failed(r, up)).toMatchObject({ message: 'This image (2100x1200) is too large to upscale ×2 (sides are limited to 4096 px).', retry: false });
    expect((await waitFor('failed', async () => ((await jobState(r, up)).state === 'failed' ? jobState(r, up) : null))).attemptsMade).toBe(1);
  });

  it('job data that is not JSON, or not an object, fails at once instead of staying active; the worker takes the next job', async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    const raw = new Queue(r.config.QUEUE_NAME, { connection: { url: redis.url }, prefix: r.config.QUEUE_PREFIX });
    // Delayed so the data can be replaced before any worker can take the job.
    const garbled = await raw.add('txt2img', txt2imgPayload(), { attempts: 3, delay: 500 });
    const number = await raw.add('txt2img', txt2imgPayload(), { attempts: 3, delay: 500 });
    const nothing = await raw.add('txt2img', txt2imgPayload(), { attempts: 3, delay: 500 });
    await raw.close();
    const jobKey = (id: string) => `${r.queue.keys.jobPrefix}${id}`;
    await r.queue.redis.hset(jobKey(garbled.id!), 'data', '{"v":1,"kind":"txt2img",');
    await r.queue.redis.hset(jobKey(number.id!), 'data', '42');
    await r.queue.redis.hset(jobKey(nothing.id!), 'data', 'null');
    // Read from Redis directly: BullMQ's own getJob cannot decode such a job either.
    const failedSet = `${r.config.QUEUE_PREFIX}:${r.config.QUEUE_NAME}:failed`;
    const rawState = async (id: string) => {
      const [atm, failedReason] = await r.queue.redis.hmget(jobKey(id), 'atm', 'failedReason');
      return { failed: (await r.queue.redis.zscore(failedSet, id)) !== null, attemptsMade: Number(atm), failedReason };
    };
    for (const id of [garbled.id!, number.id!, nothing.id!]) {
      const st = await waitFor(`job ${id} failed`, async () => ((await rawState(id)).failed ? rawState(id) : null), 10_000);
      expect(st.attemptsMade).toBe(1);
    }
    expect((await rawState(garbled.id!)).failedReason).toMatch(/^This request is malformed and cannot be run\. Please send it again\. \(job data is not JSON/);
    // Nobody can be told: the data names no channel.
    expect(r.deliverer.events.filter((e) => [garbled.id, number.id, nothing.id].includes(e.jobId))).toEqual([]);
    expect((await delivered(r, await enqueue(r, txt2imgPayload({ seed: 3 })))).seeds).toEqual([3]);
  });

  it('job data that fails the schema but names a Discord or Slack origin: the user gets one notice, with the mention and the reason, no prompt and no Retry', async () => {
    const discord = await FakeDiscord.start();
    const slack = await FakeSlack.start();
    try {
      const slackConfig = loadConfig({ SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: 'signing-secret-1', SLACK_API_URL: slack.apiUrl, LOG_LEVEL: 'silent' });
      const platformKv = new MemoryKeyValueStore();
      const deliverers = [
        new DiscordDeliverer({ rest: createDiscordRest(discord.token, discord.apiUrl, { timeoutMs: 5_000, maxRateLimitWaitMs: 5_000 }), kv: platformKv, applicationId: discord.applicationId, nsfwMode: 'spoiler' }),
        createSlackDeliverer(slackConfig, platformKv, { logger: silent, pacer: new ChannelPacer(platformKv, { intervalMs: 0 }), minProgressIntervalMs: 0 }),
      ];
      const r = await rig({ JOB_ATTEMPTS: '3' }, { deliverers });
      const parent = slack.postBotMessage('C0IMAGINE', 'asked for: a secret prompt');
      const discordUser = '2000000000000000001';
      const raw = new Queue(r.config.QUEUE_NAME, { connection: { url: redis.url }, prefix: r.config.QUEUE_PREFIX });
      // Written straight into the queue, past every check the bot makes: steps the schema refuses.
      const fromDiscord = await raw.add('txt2img', txt2imgPayload({ prompt: 'a secret prompt', steps: -3 }, { platform: 'discord', workspaceId: discord.guildId, channelId: discord.channelId, userId: discordUser, platformData: { applicationId: discord.applicationId } }), { attempts: 3 });
      const fromSlack = await raw.add('txt2img', txt2imgPayload({ prompt: 'a secret prompt', steps: -3 }, { platform: 'slack', workspaceId: slack.teamId, channelId: 'C0IMAGINE', threadId: parent.ts, userId: 'U0ALICE' }), { attempts: 3 });
      await raw.close();
      const malformed = 'This request is malformed and cannot be run. Please send it again.';

      for (const id of [fromDiscord.id!, fromSlack.id!]) {
        const st = await waitFor(`job ${id} failed`, async () => ((await jobState(r, id)).state === 'failed' ? jobState(r, id) : null));
        expect(st.attemptsMade).toBe(1);
        expect(st.failedReason).toContain('params.steps');
      }

      const posted = await waitFor('the Discord notice', () => (discord.channelMessages().length > 0 ? discord.channelMessages() : null));
      await sleep(300); // a second message would have come by now
      expect(discord.channelMessages()).toHaveLength(1);
      expect(posted[0].content).toBe(`<@${discordUser}>\n❌ ${malformed}`);
      expect(posted[0].components).toEqual([]);

      const replies = await waitFor('the Slack notice', () => (slack.threadReplies('C0IMAGINE', parent.ts).length > 0 ? slack.threadReplies('C0IMAGINE', parent.ts) : null));
      await sleep(300);
      expect(slack.threadReplies('C0IMAGINE', parent.ts)).toHaveLength(1);
      const blocks = replies[0].blocks as Array<{ type: string; text?: { text: string }; elements?: Array<{ text: string }> }>;
      expect(blocks.map((b) => b.type)).toEqual(['section', 'context']);
      expect(blocks[0].text!.text).toBe('<@U0ALICE>');
      expect(blocks[1].elements![0].text).toBe(`❌ ${malformed}`);
      expect(JSON.stringify(replies[0])).not.toContain('secret prompt');
    } finally {
      await Promise.all(rigs.splice(0).map((r) => r.close()));
      await discord.close();
      await slack.close();
    }
  });

  it('broken model folder: the job fails with a user message, the worker stays up and takes the next job', async () => {
    const broken = tempDir('broken-model');
    await fs.mkdir(path.join(broken, 'unet'), { recursive: true });
    await fs.writeFile(path.join(broken, 'model_index.json'), '{ "this is": "not finished');
    const catalog = createModelCatalog([model.info, { ...model.info, name: 'broken', dir: broken }]);
    const r = await rig({ JOB_ATTEMPTS: '1' }, { catalog });
    const bad = await enqueue(r, txt2imgPayload({ model: 'broken' }));
    const good = await enqueue(r, txt2imgPayload({ seed: 5 }));
    const notice = await failed(r, bad);
    expect(notice).toEqual(expect.objectContaining({ message: 'The model "broken" is not available right now (it failed to load on the worker). Try again later or pick another model.', retry: true }));
    expect(notice.message).not.toContain(broken);
    expect((await delivered(r, good)).seeds).toEqual([5]);
    const st = await waitFor('failed', async () => ((await jobState(r, bad)).state === 'failed' ? jobState(r, bad) : null));
    expect(st.failedReason).toContain('model "broken" could not be loaded');
  });

  it('delivery answered 429 (Retry-After), then 500, then success: delivered once, after the advised wait', async () => {
    const deliverer = new RecordingDeliverer({ resultFaults: [{ status: 429, retryAfterMs: 1200 }, { status: 500 }] });
    const r = await rig({}, { retryPolicy: { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 10_000, callTimeoutMs: 5000 } }, deliverer);
    const jobId = await enqueue(r, txt2imgPayload());
    const ok = await delivered(r, jobId);
    const refusals = eventsFor(r, jobId, 'result-refused') as Array<Extract<DeliveryEvent, { type: 'result-refused' }>>;
    expect(refusals.map((e) => e.status)).toEqual([429, 500]);
    expect(refusals[1].at - refusals[0].at).toBeGreaterThanOrEqual(1200);
    expect(ok.at - refusals[1].at).toBeGreaterThanOrEqual(50);
    await waitFor('completed', async () => (await jobState(r, jobId)).state === 'completed');
    expect(eventsFor(r, jobId, 'result')).toHaveLength(1);
    // No attempt of the job failed: the retries were the delivery's own.
    expect((await jobState(r, jobId)).failedReason).toBeUndefined();
  });

  it('a re-run of a delivered job completes without posting again', async () => {
    const r = await rig();
    const jobId = await enqueue(r, txt2imgPayload({ seed: 77 }));
    const first = await delivered(r, jobId);
    await waitFor('completed', async () => (await jobState(r, jobId)).state === 'completed');
    // Run the same job again through the runner, as a second attempt would.
    const again = await r.worker.runner.run({ id: jobId, payload: txt2imgPayload({ seed: 77 }), attemptsMade: 1, signal: new AbortController().signal, updateProgress: async () => {} });
    expect(again.resultId).toBe(first.resultId);
    expect(again.messageId).toBe(first.messageId);
    expect(eventsFor(r, jobId, 'result')).toHaveLength(1);
  });

  it("images the model folder's safety checker flags reach the deliverer flagged, and stay flagged in the stored result", async () => {
    const flagging = tinyModel(undefined, { safetyChecker: { threshold: -1e6 } });
    const r = await rig({}, { catalog: flagging.catalog });
    const jobId = await enqueue(r, txt2imgPayload({ seed: 8, n: 2 }));
    const event = await delivered(r, jobId);
    expect(event.flagged).toEqual([true, true]);
    const stored = (await jobState(r, jobId)).returnvalue!;
    expect(stored.images.map((i) => i.nsfw)).toEqual([true, true]);
    expect((await r.results.get(stored.resultId))!.images.map((i) => i.nsfw)).toEqual([true, true]);
  });

  it("close() returns even when BullMQ's wait for its blocking connection to end never does (as after a Redis outage)", async () => {
    const r = await rig({}, { closeGraceMs: 200 });
    const jobId = await enqueue(r, txt2imgPayload({ seed: 5 }));
    await delivered(r, jobId);
    const bull = (r.worker.consumer as QueueConsumer).worker;
    const blocking = (await bull.backend.blockingClient)!;
    expect(blocking.status).toBe('ready');
    // The failure: the 'end' BullMQ waits for never comes, so its graceful close never finishes.
    const realDisconnect = bull.backend.disconnectBlocking.bind(bull.backend);
    const waits: boolean[] = [];
    bull.backend.disconnectBlocking = (wait = true) => {
      waits.push(wait);
      return wait ? new Promise<void>(() => undefined) : realDisconnect(false);
    };
    await r.worker.close();
    expect(waits).toEqual([true, false]); // the graceful wait, then the cut
    await waitFor('blocking connection ended', () => blocking.status === 'end');
    expect(eventsFor(r, jobId, 'result')).toHaveLength(1);
    expect((await jobState(r, jobId)).state).toBe('completed');
  });

  it('dynamic batching: compatible waiting jobs share one pipeline call, each keeps its own seeds, progress and message', async () => {
    const r = await rig({ WORKER_BATCHING: 'on', WORKER_MAX_BATCH: '4' });
    // Jobs queued while the worker is busy with a first, slow one.
    const slow = await enqueue(r, txt2imgPayload({ width: 512, height: 512, steps: 30, seed: 1 }));
    await waitFor('slow job running', async () => (await jobState(r, slow)).state === 'active');
    const ids = [];
    for (const seed of [10, 20, 30]) ids.push(await enqueue(r, txt2imgPayload({ seed, steps: 8, guidance: 5 + seed / 10 })));
    const odd = await enqueue(r, txt2imgPayload({ seed: 40, steps: 9 }));
    const events = await Promise.all(ids.map((id) => delivered(r, id)));
    expect(events.map((e) => e.seeds)).toEqual([[10], [20], [30]]);
    expect((await delivered(r, odd)).seeds).toEqual([40]);
    const scrape = await r.worker.metrics.render();
    // The slow job alone, the three compatible ones together, the odd one alone.
    expect(scrape).toContain('imagine_batch_jobs_bucket{le="1"} 2');
    expect(scrape).toContain('imagine_batch_jobs_bucket{le="2"} 2');
    expect(scrape).toContain('imagine_batch_jobs_bucket{le="3"} 3');
    expect(scrape).toContain('imagine_batch_jobs_count 3');
    for (const id of ids) {
      const st = await waitFor('completed', async () => ((await jobState(r, id)).state === 'completed' ? jobState(r, id) : null));
      expect(st.progress).toMatchObject({ step: 8, total: 8 });
      expect(eventsFor(r, id, 'progress').length).toBeGreaterThan(0);
    }
  });

  it('the pipeline never waits on storing: with one slot, the next job starts while the last one has its files written, and the one after still waits', async () => {
    const dir = tempDir('slow-artifacts');
    const r = await rig({ WORKER_CONCURRENCY: '1', WORKER_BATCHING: 'off' }, { artifacts: new SlowStore(dir) });
    // Job 2 is long (hundreds of steps): it is still in the pipeline when it is taken and checked.
    const ids = [
      await enqueue(r, txt2imgPayload({ seed: 1 })),
      await enqueue(r, txt2imgPayload({ seed: 2, width: 512, height: 512, steps: 300 })),
      await enqueue(r, txt2imgPayload({ seed: 3 })),
    ];
    // While job 1 is being stored, job 2 is taken; job 3 waits (one job in the pipeline, one storing).
    await waitFor('job 2 active', async () => (await r.queue.queue.getJob(ids[1]))?.processedOn !== undefined);
    expect(await (await r.queue.queue.getJob(ids[0]))!.getState()).toBe('active');
    expect(await (await r.queue.queue.getJob(ids[2]))!.getState()).toBe('prioritized'); // waiting for its fair turn
    for (const id of ids) await delivered(r, id);
    const jobs = await Promise.all(ids.map((id) => r.queue.queue.getJob(id)));
    // Job 2 started before job 1 was finished storing.
    expect(jobs[1]!.processedOn!).toBeLessThan(jobs[0]!.finishedOn!);
    await fs.rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('edits: Zoom Out 2x and ➡ pressed on a stored result, and a remixed Vary (Region) with a stored mask, make edit results stored with the edit recorded; a region mask that is not an image fails once with a user message', async () => {
    const r = await rig();
    const first = await delivered(r, await enqueue(r, txt2imgPayload({ n: 1, seed: 7, steps: 4 })));
    const source = (await r.results.get(first.resultId))!;
    const store = new FsArtifactStore(r.artifactDir);
    const sourcePng = (await store.get(source.images[0].artifact.key))!;
    const press = (ref: ActionRef, eventId: string) => {
      const outcome = decideAction(ref, { result: source }, { ...context({ origin: { ...source.origin, eventId } }), models: model.catalog });
      if (outcome.kind !== 'job') throw new Error(`expected a job, got ${JSON.stringify(outcome)}`);
      return outcome.payload;
    };

    const zoom = await delivered(r, await enqueue(r, press({ action: 'zoom-2', resultId: source.resultId, index: 0 }, 'press-zoom')));
    const zoomed = (await r.results.get(zoom.resultId))!;
    expect(zoomed).toMatchObject({ kind: 'edit', edit: { type: 'zoom', factor: 2 }, parentResultId: source.resultId, params: { width: 64, height: 64, prompt: source.params.prompt } });
    const zoomedPng = (await store.get(zoomed.images[0].artifact.key))!;
    expect(readPngParameters(zoomedPng)).toMatchObject({ edit: 'Zoom out 2x', width: 64, height: 64 });
    // The centre is the source shrunk to half (pixels beyond the feather exactly).
    const shrunk = await sharp(sourcePng).resize(32, 32, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
    const centre = await sharp(zoomedPng).extract({ left: 20, top: 20, width: 24, height: 24 }).raw().toBuffer();
    const expected = await sharp(shrunk, { raw: { width: 32, height: 32, channels: 3 } }).extract({ left: 4, top: 4, width: 24, height: 24 }).raw().toBuffer();
    expect(centre.equals(expected)).toBe(true);

    const pan = await delivered(r, await enqueue(r, press({ action: 'pan-right', resultId: source.resultId, index: 0 }, 'press-pan')));
    const panned = (await r.results.get(pan.resultId))!;
    expect(panned).toMatchObject({ kind: 'edit', edit: { type: 'pan', direction: 'right' } });
    expect(panned.images[0]).toMatchObject({ width: 96, height: 64 });
    expect(readPngParameters((await store.get(panned.images[0].artifact.key))!)).toMatchObject({ edit: 'Pan right', width: 96, height: 64 });

    // Vary (Region) with the editor's mask (left half white, drawn at another size): the right half beyond the feather stays the source's.
    const maskPng = await sharp({ create: { width: 128, height: 128, channels: 3, background: 'black' } })
      .composite([{ input: { create: { width: 64, height: 128, channels: 3, background: 'white' } }, left: 0, top: 0 }])
      .png()
      .toBuffer();
    await store.put('uploads/mask-1.png', maskPng, 'image/png');
    const regionCtx = { ...context({ origin: { ...source.origin, eventId: 'press-region-ok' } }), models: model.catalog };
    const regionOk = varyRegion({ result: source, index: 0, maskArtifactKey: 'uploads/mask-1.png', prompt: 'a green square' }, regionCtx);
    if (regionOk.kind !== 'job') throw new Error(`expected a job, got ${JSON.stringify(regionOk)}`);
    const repainted = (await r.results.get((await delivered(r, await enqueue(r, regionOk.payload))).resultId))!;
    expect(repainted).toMatchObject({ kind: 'edit', edit: { type: 'region', maskArtifactKey: 'uploads/mask-1.png' }, params: { prompt: 'a green square' } });
    const repaintedPng = (await store.get(repainted.images[0].artifact.key))!;
    const rightHalf = (png: Buffer) => sharp(png).extract({ left: 36, top: 0, width: 28, height: 64 }).raw().toBuffer();
    expect((await rightHalf(repaintedPng)).equals(await rightHalf(sourcePng))).toBe(true);
    expect((await sharp(repaintedPng).raw().toBuffer()).equals(await sharp(sourcePng).raw().toBuffer())).toBe(false);

    await store.put('uploads/not-a-mask.png', Buffer.from('not an image'), 'image/png');
    const ctx = { ...context({ origin: { ...source.origin, eventId: 'press-region' } }), models: model.catalog };
    const region = varyRegion({ result: source, index: 0, maskArtifactKey: 'uploads/not-a-mask.png' }, ctx);
    if (region.kind !== 'job') throw new Error(`expected a job, got ${JSON.stringify(region)}`);
    const regionJob = await enqueue(r, region.payload);
    expect(await failed(r, regionJob)).toMatchObject({ message: 'The region drawn for this edit could not be read as an image. Draw it again.', retry: false });
  }, 60_000);

  it('an inpainting model (9-channel UNet) refuses to draw a new image, once, with a message naming what it does', async () => {
    const inpainting = tinyModel(undefined, { unetInChannels: 9 });
    const r = await rig({}, { catalog: inpainting.catalog });
    const jobId = await enqueue(r, txt2imgPayload({ n: 1, steps: 4 }));
    expect(await failed(r, jobId)).toMatchObject({
      message: 'The model tiny is an inpainting model: it only edits images (Zoom Out, Pan, Vary (Region)). Pick another model for this.',
      retry: false,
    });
    expect((await jobState(r, jobId)).attemptsMade).toBe(1);
  }, 60_000);
});


describe('worker flow without Redis (one-process mode)', () => {
  it('takes jobs from the in-process queue through the same runner: delivered once, cancel says cancelled', async () => {
    const artifactDir = tempDir('worker-local');
    const config = loadConfig({ LOG_LEVEL: 'silent', ARTIFACT_DIR: artifactDir, LIMIT_USER_QUEUED: '100', ...SLOW_JOB_LIMITS });
    const kv = new MemoryKeyValueStore();
    const queue = new LocalJobQueue({ config, secrets: kv });
    const deliverer = new RecordingDeliverer();
    const worker = await startWorker(config, { deliverers: [deliverer], logger: silent, catalog: model.catalog, loadPipeline: pipelineLoader(), http: false, kv, localQueue: queue });
    try {
      const ok = await queue.enqueue(txt2imgPayload({ seed: 9, n: 2 }), { secret: interactionTokenGrant('tok-1') });
      const slow = await queue.enqueue(txt2imgPayload(SLOW));
      if (!ok.ok || !slow.ok) throw new Error('enqueue refused');
      const result = await waitFor('local result', () => deliverer.events.find((e) => e.type === 'result' && e.jobId === ok.jobId));
      expect(result).toMatchObject({ seeds: [9, 10], images: 2, hasSecret: true });
      await waitFor('slow job running', () => (queue.jobState(slow.jobId)?.progress?.step ?? 0) >= 2);
      expect(await queue.cancel(slow.jobId, 'u-100')).toEqual({ ok: true, state: 'cancelling' });
      const notice = await waitFor('cancel notice', () => deliverer.events.find((e) => e.type === 'failure' && e.jobId === slow.jobId));
      expect(notice).toMatchObject({ message: 'Cancelled.', cancelled: true });
      expect(deliverer.events.filter((e) => e.type === 'result')).toHaveLength(1);
      expect(queue.jobState(slow.jobId)?.state).toBe('failed');
    } finally {
      await worker.close();
      await queue.close();
      await fs.rm(artifactDir, { recursive: true, force: true });
    }
  });

  it('the pipeline never waits on storing here either: with one slot, the next job starts while the last one has its files written, and the one after still waits', async () => {
    const artifactDir = tempDir('worker-local-slow');
    const config = loadConfig({ LOG_LEVEL: 'silent', ARTIFACT_DIR: artifactDir, LIMIT_USER_QUEUED: '100', WORKER_CONCURRENCY: '1', WORKER_BATCHING: 'off', ...SLOW_JOB_LIMITS });
    const kv = new MemoryKeyValueStore();
    const queue = new LocalJobQueue({ config, secrets: kv });
    const deliverer = new RecordingDeliverer();
    const worker = await startWorker(config, { deliverers: [deliverer], logger: silent, catalog: model.catalog, loadPipeline: pipelineLoader(), http: false, kv, localQueue: queue, artifacts: new SlowStore(artifactDir) });
    try {
      const ids: string[] = [];
      for (const params of [{ seed: 1 }, { seed: 2, width: 512, height: 512, steps: 300 }, { seed: 3 }]) {
        const out = await queue.enqueue(txt2imgPayload(params));
        if (!out.ok) throw new Error(out.message);
        ids.push(out.jobId);
      }
      // While job 1 is being stored, job 2 is taken; job 3 waits (one job in the pipeline, one storing).
      await waitFor('job 2 active', () => queue.jobState(ids[1])?.state === 'active');
      expect(queue.jobState(ids[0])?.state).toBe('active');
      expect(queue.jobState(ids[2])?.state).toBe('waiting');
      for (const id of ids) await waitFor(`result of ${id}`, () => deliverer.events.find((e) => e.type === 'result' && e.jobId === id));
      // Job 2 started before job 1 was finished storing.
      expect(queue.jobState(ids[1])!.processedOn!).toBeLessThan(queue.jobState(ids[0])!.finishedOn!);
    } finally {
      await worker.close();
      await queue.close();
      await fs.rm(artifactDir, { recursive: true, force: true });
    }
  }, 60_000);
});
