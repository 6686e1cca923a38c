/**
 * Fault tests: worker processes (children running the real startWorker and process
 * lifecycle) against a real Redis, killed, crashed, signalled and starved of Redis, with
 * results recorded to a file by a recording deliverer (the scenarios: support/worker-scenario.ts).
 */
import { QueueEvents } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { ResultStore } from '../../src/results.ts';
import { resultIdForJob } from '../../worker/job-runner.ts';
import { testConfig } from '../../kit/queue-prefix.ts';
import { readDeliveries, RecordingDeliverer, type DeliveryEvent } from '../support/recording-deliverer.ts';
import { redisServerAvailable, startRedis, type TestRedis } from '../../kit/redis-server.ts';
import { txt2imgPayload, waitFor } from '../../kit/worker-fixtures.ts';
import { inProcessWorker, progressStep, scenario as scenarioOn, slowJob, state, type ChildWorker } from '../support/worker-scenario.ts';

const haveRedis = redisServerAvailable();
if (!haveRedis) console.warn('worker/faults tests SKIPPED: no redis-server on PATH and no REDIS_URL');

let redis: TestRedis;
const cleanups: Array<() => Promise<void> | void> = [];
const scenario = (label: string, env: Record<string, string> = {}) => scenarioOn({ url: redis.url, env: { REDIS_URL: redis.url }, cleanups }, label, env);

beforeAll(async () => {
  // Append-only persistence: a restarted server must still hold every queued job.
  if (haveRedis) redis = await startRedis({ aof: true });
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.skipIf(!haveRedis)('worker faults (child processes, real Redis)', () => {
  it('SIGKILL mid-job: another worker picks the job up once the lock expires; the result is delivered once', async () => {
    const s = scenario('sigkill');
    const a = await s.spawnWorker();
    const jobId = await s.enqueue(slowJob({ seed: 31 }));
    await waitFor('job running on A', async () => (await progressStep(s.queue, jobId)) >= 2);
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    expect(s.events(jobId, 'result')).toHaveLength(0);

    const killedAt = Date.now();
    const b = await s.spawnWorker();
    const result = await waitFor('result from B', () => s.events(jobId, 'result')[0], 60_000);
    expect(result.pid).toBe(b.pid);
    await waitFor('completed', async () => (await state(s.queue, jobId)) === 'completed');
    await new Promise((r) => setTimeout(r, 500));
    expect(s.events(jobId, 'result')).toHaveLength(1);
    expect((result as { seeds: number[] }).seeds).toEqual([31]);
    // Recovered through the stall path (one stall recorded), not a retry of a failed attempt.
    const job = (await s.queue.queue.getJob(jobId))!;
    expect(await s.queue.redis.hget(`${s.queue.keys.jobPrefix}${jobId}`, 'stc')).toBe('1');
    expect(job.failedReason).toBeUndefined();
    expect(result.at - killedAt).toBeGreaterThan(0);
  });

  it('killed after a delivery was claimed: a delivered job is never posted again; one killed inside the post is re-posted with the same key', async () => {
    const s = scenario('post-window', { TEST_RESULT_RETURN_DELAY_MS: '4000' });
    const a = await s.spawnWorker();
    const jobId = await s.enqueue(txt2imgPayload({ seed: 61 }));
    // A's post reached the user, but A dies before it can mark the delivery done.
    const first = await waitFor('post from A', () => s.events(jobId, 'result')[0], 30_000);
    a.child.kill('SIGKILL');
    await a.exited;
    const b = await s.spawnWorker({ TEST_RESULT_RETURN_DELAY_MS: '0' });
    const second = await waitFor('post from B', () => s.events(jobId, 'result')[1], 60_000);
    await waitFor('completed', async () => (await state(s.queue, jobId)) === 'completed');
    // The documented window: posted again, with the same idempotency key (job id) and the same
    // stored result (B reused it rather than generating again: it reported no progress).
    expect([first.pid, second.pid]).toEqual([a.pid, b.pid]);
    expect((second as { resultId: string }).resultId).toBe((first as { resultId: string }).resultId);
    expect(s.events(jobId, 'progress').filter((e) => e.pid === b.pid)).toEqual([]);

    // Once marked done, no re-run posts: the job run once more (an operator's retry) completes silently.
    const job = (await s.queue.queue.getJob(jobId))!;
    const startedBefore = job.attemptsStarted ?? 0;
    await job.retry('completed');
    await waitFor('completed again', async () => {
      const again = (await s.queue.queue.getJob(jobId))!;
      return (await again.getState()) === 'completed' && (again.attemptsStarted ?? 0) > startedBefore;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(s.events(jobId, 'result')).toHaveLength(2);
  });

  it('a job that crashes workers twice is failed with a user message and a Retry, not run again; the worker stays up', async () => {
    const s = scenario('crash-twice', { TEST_CRASH_PROMPT: 'crash-me', TEST_CRASH_STEP: '2' });
    const jobId = await s.enqueue(slowJob({ prompt: 'crash-me please' }));
    const crashed: number[] = [];
    let survivor: ChildWorker | null = null;
    // A supervisor: start a worker, and another whenever one dies.
    for (let i = 0; i < 4 && !survivor; i++) {
      const w = await s.spawnWorker();
      const outcome = await Promise.race([w.exited, waitFor('failure notice', () => s.events(jobId, 'failure')[0], 60_000).then(() => null)]);
      if (outcome) {
        expect(outcome.signal).toBe('SIGKILL');
        crashed.push(w.pid);
      } else {
        survivor = w;
      }
    }
    expect(crashed).toHaveLength(2);
    expect(survivor).not.toBeNull();
    const notices = s.events(jobId, 'failure') as Array<Extract<DeliveryEvent, { type: 'failure' }>>;
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ retry: true, cancelled: false, pid: survivor!.pid });
    expect(notices[0].message).toBe('This request stopped the image worker twice, so it was not run again. You can retry it, perhaps with a smaller size.');
    await waitFor('failed', async () => (await state(s.queue, jobId)) === 'failed');
    expect((await s.queue.queue.getJob(jobId))!.failedReason).toBe('job stalled more than allowable limit');
    expect(s.events(jobId, 'result')).toHaveLength(0);
    // The surviving worker takes the next job.
    const next = await s.enqueue(txt2imgPayload({ seed: 3 }));
    expect((await waitFor('next result', () => s.events(next, 'result')[0], 30_000)).pid).toBe(survivor!.pid);
  });

  it('SIGTERM: the job in hand finishes and is delivered, the process exits 0, no stalled event', async () => {
    const s = scenario('sigterm');
    const events = new QueueEvents(s.queue.queue.name, { connection: { url: redis.url }, prefix: s.env.QUEUE_PREFIX });
    await events.waitUntilReady();
    const stalled: string[] = [];
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    cleanups.push(() => events.close());

    const w = await s.spawnWorker();
    const health = await fetch(`http://127.0.0.1:${w.port}/healthz`);
    expect(health.status).toBe(200);
    const ready = await waitFor('ready', async () => ((await fetch(`http://127.0.0.1:${w.port}/readyz`)).status === 200 ? true : null));
    expect(ready).toBe(true);

    const jobId = await s.enqueue(slowJob({ seed: 55 }));
    const later = await s.enqueue(txt2imgPayload({ seed: 56 }));
    await waitFor('job running', async () => (await progressStep(s.queue, jobId)) >= 2);
    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const result = s.events(jobId, 'result');
    expect(result).toHaveLength(1);
    expect(result[0].pid).toBe(w.pid);
    expect(await state(s.queue, jobId)).toBe('completed');
    // The stopping worker took nothing new: the next job still waits for another worker (in
    // BullMQ's prioritized set, where every job waits for its fair turn).
    expect(await state(s.queue, later)).toBe('prioritized');
    await new Promise((r) => setTimeout(r, 1500)); // longer than the lock: a stall would have been reported by now
    expect(stalled).toEqual([]);
    expect(await s.queue.redis.hget(`${s.queue.keys.jobPrefix}${jobId}`, 'stc')).toBeNull();
  });

  it('recycle: after WORKER_MAX_JOBS jobs the worker finishes, exits 0 and leaves the rest queued', async () => {
    const s = scenario('recycle', { WORKER_MAX_JOBS: '3' });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await s.enqueue(txt2imgPayload({ seed: 100 + i })));
    const w = await s.spawnWorker();
    expect(await w.exited).toEqual({ code: 0, signal: null });
    const delivered = ids.filter((id) => s.events(id, 'result').length === 1);
    expect(delivered).toEqual(ids.slice(0, 3));
    expect(await Promise.all(ids.slice(3).map((id) => state(s.queue, id)))).toEqual(['prioritized', 'prioritized']);
  });

  it('Redis restarted mid-run: the worker reconnects and every queued job is delivered exactly once', async () => {
    const s = scenario('redis-restart');
    const deliverer = new RecordingDeliverer({ file: s.deliveries });
    await inProcessWorker({ cleanups }, testConfig(redis.url, { QUEUE_PREFIX: s.env.QUEUE_PREFIX, ARTIFACT_DIR: s.env.ARTIFACT_DIR, LOG_LEVEL: 'silent' }), deliverer);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await s.enqueue(txt2imgPayload({ seed: 200 + i, steps: 40, width: 128, height: 128 })));
    const deliveredCount = () => ids.filter((id) => s.events(id, 'result').length > 0).length;
    await waitFor('a few delivered', () => deliveredCount() >= 3, 30_000, 5);
    // Counted as the outage begins (not after it, when the reconnected worker may have caught
    // up): the outage really hit the run, with jobs still queued or in progress.
    const deliveredBeforeOutage = deliveredCount();
    await redis.restart({ downMs: 1500 });
    expect(deliveredBeforeOutage).toBeLessThan(ids.length);
    // Jobs enqueued after the outage go through too.
    for (let i = 0; i < 5; i++) ids.push(await s.enqueue(txt2imgPayload({ seed: 300 + i })));
    await waitFor('all delivered', () => ids.every((id) => s.events(id, 'result').length > 0), 60_000);
    await new Promise((r) => setTimeout(r, 500));
    for (const id of ids) expect(s.events(id, 'result')).toHaveLength(1);
    expect(new Set(ids).size).toBe(35);
  });

  it('500 small jobs through one worker: RSS growth stays bounded', async () => {
    const s = scenario('rss', { PROGRESS_INTERVAL_MS: '0' });
    const w = await s.spawnWorker();
    const rss = async () => {
      const text = await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
      return Number(/^imagine_process_rss_bytes (\d+)/m.exec(text)![1]) / (1024 * 1024);
    };
    const ids: string[] = [];
    const run = async (count: number) => {
      const batch = [];
      for (let i = 0; i < count; i++) batch.push(await s.enqueue(txt2imgPayload({ seed: ids.length + i, steps: 2, n: 1 })));
      ids.push(...batch);
      await waitFor(`${ids.length} delivered`, () => readDeliveries(s.deliveries).filter((e) => e.type === 'result').length >= ids.length, 120_000, 200);
    };
    await run(50); // warm-up: model sessions, allocator pools, JIT
    const warm = await rss();
    await run(450);
    const after = await rss();
    const growth = after - warm;
    console.log(`RSS over 500 jobs: ${warm.toFixed(1)} MB after 50 (warm) -> ${after.toFixed(1)} MB after 500 (growth ${growth.toFixed(1)} MB)`);
    expect(readDeliveries(s.deliveries).filter((e) => e.type === 'result')).toHaveLength(500);
    expect(growth).toBeLessThan(RSS_GROWTH_BOUND_MB);
  }, 180_000);
  it('bot killed mid-delivery: the restarted bot posts the stored result once; the worker had already moved on', async () => {
    const s = scenario('bot-killed', { TEST_DELIVERY: 'off' });
    const w = await s.spawnWorker();
    // The first bot takes the task and dies inside the post (before the platform has it).
    const bot1 = await s.spawnDelivery({ TEST_RESULT_DELAY_MS: '60000' });
    const jobId = await s.enqueue(txt2imgPayload({ seed: 71 }));
    // The generation job ends when the result is stored, whatever the bot does.
    await waitFor('job completed by the worker', async () => (await state(s.queue, jobId)) === 'completed', 30_000);
    await waitFor('bot 1 posting', async () => (await RedisKeyValueStore.fromConfig(s.queue.redis, s.config).get(`delivery:${jobId}`))?.includes('posting'), 30_000);
    bot1.child.kill('SIGKILL');
    await bot1.exited;
    expect(s.events(jobId, 'result')).toHaveLength(0);

    const bot2 = await s.spawnDelivery();
    const result = await waitFor('result from bot 2', () => s.events(jobId, 'result')[0], 30_000);
    expect(result.pid).toBe(bot2.pid);
    expect((result as { seeds: number[] }).seeds).toEqual([71]);
    expect((result as { gridBytes: number }).gridBytes).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(s.events(jobId, 'result')).toHaveLength(1);
    // The worker never posted anything itself.
    expect(readDeliveries(s.deliveries).filter((e) => e.pid === w.pid)).toEqual([]);
  });

  it('worker killed after storing the result, before handing its delivery over: the re-run reuses it and the bot posts once', async () => {
    const s = scenario('handover', { TEST_DELIVERY: 'off' });
    const a = await s.spawnWorker({ TEST_DIE_AT_HANDOVER: '1' });
    const bot = await s.spawnDelivery();
    const jobId = await s.enqueue(txt2imgPayload({ seed: 83 }));
    expect((await a.exited).signal).toBe('SIGKILL');
    const resultId = resultIdForJob(jobId, `${s.config.QUEUE_PREFIX}:${s.config.QUEUE_NAME}`);
    const stored = await new ResultStore(RedisKeyValueStore.fromConfig(s.queue.redis, s.config)).get(resultId);
    expect(stored?.images.map((i) => i.seed)).toEqual([83]);
    expect(s.events(jobId, 'result')).toHaveLength(0);

    const b = await s.spawnWorker({ LOG_LEVEL: 'info' });
    const result = await waitFor('result posted', () => s.events(jobId, 'result')[0], 60_000);
    expect(result.pid).toBe(bot.pid);
    expect((result as { resultId: string }).resultId).toBe(resultId);
    await waitFor('completed', async () => (await state(s.queue, jobId)) === 'completed');
    expect(b.output()).toContain('reusing the result an earlier attempt stored');
    await new Promise((r) => setTimeout(r, 1000));
    expect(s.events(jobId, 'result')).toHaveLength(1);
  });
});

/** Measured growth over 450 jobs after warm-up is a few MB; this leaves room for allocator noise, not for a per-job leak. */
const RSS_GROWTH_BOUND_MB = 40;
