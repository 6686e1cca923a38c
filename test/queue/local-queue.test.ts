/**
 * The in-process JobQueue: the same behaviour the BullMQ queue tests assert on Redis
 * (positions, cancel, user jobs, dedupe, validation, every limit at its boundary, retries),
 * then the worker's own consumer path driving the real job runner on a tiny real model.
 */
import { promises as fs } from 'node:fs';
import { UnrecoverableError } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { type Config } from '../../src/config.ts';
import { loadConfig } from '../../src/root/config.ts';
import { InvalidJobError, type JobPayload, type JobResult } from '../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { loadSecret } from '../../src/platform-secrets.ts';
import { CANCEL_REFUSALS } from '../../src/queue/cancel-outcomes.ts';
import { DEDUPE_TTL_MS, RATE_WINDOW_MS, refusalMessage } from '../../src/queue/limits.ts';
import { LocalJobQueue, type LocalJob } from '../../src/queue/local-queue.ts';
import { ResultStore } from '../../src/results.ts';
import { startDeliverySide } from '../../src/delivery-side.ts';
import { JobRunner, type WorkerPipeline } from '../../worker/job-runner.ts';
import { LocalQueueConsumer } from '../../worker/local-consumer.ts';
import { ModelResidency } from '../../worker/model-residency.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';
import { localGate } from '../support/local-gate.ts';
import { enqueueOk, enqueueThreeInOrder, numberedUser, payloadBy, positionsStory, prepareStory, userQueuedLimitStory } from '../support/queue-fixtures.ts';
import { RecordingDeliverer, type DeliveryEvent } from '../support/recording-deliverer.ts';
import { pipelineLoader, SLOW_JOB_LIMITS, tempDir, tinyModel, txt2imgPayload as workerPayload, waitFor } from '../../kit/worker-fixtures.ts';
import { interactionTokenGrant } from '../../adapters/discord/secret.ts';
import { responseUrlGrant } from '../../adapters/slack/secret.ts';

const config = (env: Record<string, string> = {}): Config => loadConfig({ LOG_LEVEL: 'silent', ...env });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function queue(env: Record<string, string> = {}, opts: { now?: () => number; backoffDelayMs?: number; secrets?: MemoryKeyValueStore } = {}): LocalJobQueue {
  const q = new LocalJobQueue({ config: config(env), secrets: opts.secrets ?? new MemoryKeyValueStore(), now: opts.now, backoffDelayMs: opts.backoffDelayMs });
  cleanups.push(() => q.close());
  return q;
}

const gate = (q: LocalJobQueue, concurrency = 1) => localGate(q, cleanups, concurrency);

describe('enqueue and position', () => {
  it('returns a job id and the 1-based position; the job carries the payload and nothing else', async () => {
    const q = queue({ JOB_TIMEOUT_S: '120', JOB_ATTEMPTS: '4' });
    const ids = await enqueueThreeInOrder(q);
    expect(await q.jobPayload(ids[1])).toEqual(txt2imgPayload({ ...numberedUser(2), prompt: 'prompt 2' }));
    expect(await q.position(ids[2])).toBe(3);
    expect(await q.position('no-such-job')).toBeNull();
    expect(await q.counts()).toEqual({ waiting: 3, active: 0, completed: 0, failed: 0, delayed: 0 });

    const seen: LocalJob[] = [];
    const worker = q.process(async (job) => {
      seen.push(job);
      return {} as JobResult;
    }, { concurrency: 1 });
    await waitFor('all done', async () => (await q.counts()).completed === 3, 5_000, 5);
    await worker.close();
    expect(seen.map((j) => j.id)).toEqual(ids);
    expect(seen[0]).toMatchObject({ name: 'txt2img', attemptsMade: 0, opts: { attempts: 4 }, data: txt2imgPayload({ ...numberedUser(1), prompt: 'prompt 1' }) });
  });

  it('reports 0 for the running job, moves the others up, and null once finished', async () => {
    const q = queue();
    await positionsStory(q, () => gate(q));
  });

  it('progress reported by the processor is kept on the job', async () => {
    const q = queue();
    const o = await q.enqueue(txt2imgPayload());
    if (!o.ok) throw new Error('refused');
    const heard: unknown[] = [];
    q.on('progress', (_job, p) => heard.push(p));
    const worker = q.process(async (job) => {
      await job.updateProgress({ step: 3, total: 20, etaMs: 1700 });
      return {} as JobResult;
    }, { concurrency: 1 });
    await waitFor('completed', () => q.jobState(o.jobId)?.state === 'completed', 5_000, 5);
    await worker.close();
    expect(q.jobState(o.jobId)).toMatchObject({ state: 'completed', attemptsMade: 1, progress: { step: 3, total: 20, etaMs: 1700 } });
    expect(heard).toEqual([{ step: 3, total: 20, etaMs: 1700 }]);
  });
});

describe('cancel', () => {
  it('removes a waiting job, frees its place in line, and only for its owner', async () => {
    const secrets = new MemoryKeyValueStore();
    const q = queue({}, { secrets });
    const a = await q.enqueue(txt2imgPayload(numberedUser(1)), { secret: interactionTokenGrant('tok-a') });
    const b = await q.enqueue(txt2imgPayload(numberedUser(2)));
    if (!a.ok || !b.ok) throw new Error('enqueue refused');
    expect(await loadSecret(secrets, a.jobId)).toEqual({ platform: 'discord', interactionToken: 'tok-a' });

    expect(await q.cancel(a.jobId, 'user-2')).toEqual(CANCEL_REFUSALS['not-owner']);
    expect(CANCEL_REFUSALS['not-owner'].message).toContain('Only the person');
    expect(await q.cancel(a.jobId, 'user-1')).toEqual({ ok: true, state: 'removed' });
    expect(await q.jobPayload(a.jobId)).toBeNull();
    expect(await q.position(a.jobId)).toBeNull();
    expect(await q.position(b.jobId)).toBe(1);
    expect(await loadSecret(secrets, a.jobId)).toBeNull();
    expect(await q.cancel(a.jobId, 'user-1')).toMatchObject({ ok: false, reason: 'not-found' });
    expect(await q.userJobs('user-1')).toEqual([]);
  });

  it('flags a running job and tells the listeners instead of removing it; a finished job cannot be cancelled', async () => {
    const q = queue();
    const heard: string[] = [];
    const unsubscribe = q.onCancelRequested((id) => heard.push(id));
    const o = await q.enqueue(txt2imgPayload(numberedUser(1)));
    if (!o.ok) throw new Error('refused');
    const worker = gate(q);
    await worker.waitStarted(1);
    expect(q.isCancelRequested(o.jobId)).toBe(false);
    expect(await q.cancel(o.jobId, 'user-1')).toEqual({ ok: true, state: 'cancelling' });
    expect(q.isCancelRequested(o.jobId)).toBe(true);
    expect(heard).toEqual([o.jobId]);
    // Still there: the worker decides when it stops.
    expect(await q.position(o.jobId)).toBe(0);
    await worker.complete(o.jobId);
    expect(await q.cancel(o.jobId, 'user-1')).toEqual(CANCEL_REFUSALS.finished);
    unsubscribe();
  });
});

describe('deduplication', () => {
  it('the same platform event enqueues one job; the repeat gets the first job id, past the user limit', async () => {
    const q = queue({ LIMIT_USER_QUEUED: '1' });
    const first = await q.enqueue(txt2imgPayload(numberedUser(1)), { dedupeId: 'interaction-123' });
    const again = await q.enqueue(txt2imgPayload(numberedUser(1)), { dedupeId: 'interaction-123' });
    if (!first.ok) throw new Error('refused');
    expect(again).toEqual({ ok: true, jobId: first.jobId, position: 1, duplicate: true });
    expect(await q.counts()).toMatchObject({ waiting: 1 });
    expect(await q.enqueue(txt2imgPayload(numberedUser(2)), { dedupeId: 'interaction-456' })).toMatchObject({ ok: true, duplicate: false, position: 2 });
  });

  it('20 concurrent deliveries of one event make exactly one job; the dedupe id expires after its TTL', async () => {
    let now = 1_000_000;
    const q = queue({ LIMIT_USER_QUEUED: '5' }, { now: () => now });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => q.enqueue(txt2imgPayload(numberedUser(1)), { dedupeId: 'evt-1' })));
    expect(new Set(outcomes.map((o) => (o.ok ? o.jobId : 'refused'))).size).toBe(1);
    expect(outcomes.filter((o) => o.ok && !o.duplicate)).toHaveLength(1);
    expect(outcomes.every((o) => o.ok && o.position === 1)).toBe(true);
    now += DEDUPE_TTL_MS + 1;
    expect(await q.enqueue(txt2imgPayload(numberedUser(1)), { dedupeId: 'evt-1' })).toMatchObject({ ok: true, duplicate: false, position: 2 });
  });
});

describe('validation at enqueue', () => {
  it('an invalid payload, an unknown version or a secret for another platform throws InvalidJobError and stores nothing', async () => {
    const secrets = new MemoryKeyValueStore();
    const q = queue({}, { secrets });
    const bad = { ...txt2imgPayload(), params: { ...txt2imgPayload().params, steps: 0 } };
    const err = await q.enqueue(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidJobError);
    expect((err as InvalidJobError).detail).toMatch(/^params\.steps:/);
    expect((err as InvalidJobError).userMessage).toMatch(/malformed/);

    const future = { ...txt2imgPayload(), v: 2 } as unknown as JobPayload;
    const versionErr = await q.enqueue(future).catch((e: unknown) => e);
    expect((versionErr as InvalidJobError).detail).toBe('unsupported job version 2');

    const secretErr = await q.enqueue(txt2imgPayload(), { secret: responseUrlGrant('https://hooks.slack.com/commands/T1/1/abc') }).catch((e: unknown) => e);
    expect(secretErr).toBeInstanceOf(InvalidJobError);
    expect((secretErr as InvalidJobError).detail).toBe('secret is for slack but the job comes from discord');

    expect(await q.counts()).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0 });
    expect(secrets.size).toBe(0);
    // Nothing was counted against the user either.
    expect((await enqueueOk(q, txt2imgPayload().origin.userId, 3)).length).toBe(3);
  });
});

describe('queued-per-user limit', () => {
  it('allows N, refuses N+1 with the same message as Redis, and frees a slot on cancel, completion and final failure', async () => {
    const q = queue({ LIMIT_USER_QUEUED: '3', LIMIT_USER_PER_MINUTE: '100', JOB_ATTEMPTS: '1' });
    await userQueuedLimitStory(q, () => gate(q), (id) => expect(q.jobState(id)).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: 'boom' }));
  });

  it('holds the slot while a prepare step runs, queues what it returns, and gives the slot back when it fails', async () => {
    await prepareStory(queue({ LIMIT_USER_QUEUED: '1', LIMIT_USER_PER_MINUTE: '3' }));
  });

  it('a job waiting for a retry still holds its slot, rejoins at the back of the line, and runs again', async () => {
    const q = queue({ LIMIT_USER_QUEUED: '1', JOB_ATTEMPTS: '3' }, { backoffDelayMs: 150 });
    const [id] = await enqueueOk(q, 'carol', 1);
    const other = await q.enqueue(payloadBy('dan'));
    if (!other.ok) throw new Error('refused');
    const worker = gate(q);
    await worker.waitStarted(1);
    await worker.fail(id);
    expect(q.jobState(id)).toMatchObject({ state: 'delayed', attemptsMade: 1 });
    expect(await q.counts()).toMatchObject({ delayed: 1 });
    expect(await q.enqueue(payloadBy('carol'))).toMatchObject({ ok: false, reason: 'user-queued-limit' });
    // dan's job is running now; carol's retry waits behind the line.
    await worker.waitStarted(2);
    expect(await q.position(id)).toBe(1);
    await worker.complete(other.jobId);
    await worker.waitStarted(3);
    expect(worker.started).toEqual([id, other.jobId, id]);
    expect(worker.attempts).toEqual([0, 0, 1]);
  });

  it('an UnrecoverableError fails the job at once, whatever attempts are left', async () => {
    const q = queue({ JOB_ATTEMPTS: '5' }, { backoffDelayMs: 10 });
    const [id] = await enqueueOk(q, 'erin', 1);
    const worker = gate(q);
    await worker.waitStarted(1);
    await worker.fail(id, new UnrecoverableError('job cancelled'));
    expect(q.jobState(id)).toMatchObject({ state: 'failed', attemptsMade: 1, failedReason: 'job cancelled' });
    expect(await q.counts()).toMatchObject({ failed: 1, delayed: 0, waiting: 0 });
  });
});

describe('bookkeeping memory', () => {
  it('distinct requesters that were refused, or whose jobs finished, leave no per-user or dedupe entries behind', async () => {
    let now = 9_000_000;
    const q = queue({ LIMIT_USER_QUEUED: '5', LIMIT_USER_PER_MINUTE: '5', LIMIT_QUEUE_DEPTH: '2', JOB_ATTEMPTS: '1' }, { now: () => now });
    const empty = q.bookkeepingSize();
    expect(empty).toEqual({ users: 0, rateWindows: 0, dedupeIds: 0 });

    // Two jobs fill the queue; then 3,000 other people are refused as the queue is full.
    const [held] = await enqueueOk(q, 'holder', 2);
    const holding = q.bookkeepingSize();
    expect(holding).toEqual({ users: 1, rateWindows: 1, dedupeIds: 0 });
    for (let i = 0; i < 3_000; i++) {
      const refused = await q.enqueue(payloadBy(`stranger-${i}`), { dedupeId: `evt-refused-${i}` });
      expect(refused).toMatchObject({ ok: false, reason: 'queue-full' });
    }
    expect(q.bookkeepingSize()).toEqual(holding);

    // 3,000 people each get one job through, and it finishes (completed or finally failed).
    const worker = q.process(async (job) => {
      if (job.data.params.prompt === 'fail') throw new Error('boom');
      return {} as JobResult;
    }, { concurrency: 4 });
    cleanups.push(() => worker.close());
    await waitFor('the two held jobs done', async () => (await q.counts()).completed === 2, 5_000, 5);
    expect(q.jobState(held)).toMatchObject({ state: 'completed' });
    for (let i = 0; i < 3_000; i++) {
      const o = await q.enqueue(txt2imgPayload({ origin: { userId: `passer-${i}` }, prompt: i % 2 ? 'fail' : 'ok' }), { dedupeId: `evt-${i}` });
      expect(o.ok).toBe(true);
      if (i % 100 === 99) await waitFor('finished', async () => { const c = await q.counts(); return c.waiting + c.active === 0; }, 5_000, 2);
    }
    await waitFor('all finished', async () => { const c = await q.counts(); return c.waiting + c.active === 0; }, 5_000, 2);
    // Nobody has a live job any more; the rate windows and dedupe ids still hold until they expire.
    expect(q.bookkeepingSize()).toEqual({ users: 0, rateWindows: 3_001, dedupeIds: 3_000 });

    // Once the minute and the dedupe TTL have passed, the next request sweeps them all.
    now += Math.max(RATE_WINDOW_MS, DEDUPE_TTL_MS) + 1;
    expect(await q.enqueue(payloadBy('late'))).toMatchObject({ ok: true });
    await waitFor('late finished', async () => { const c = await q.counts(); return c.waiting + c.active === 0; }, 5_000, 2);
    expect(q.bookkeepingSize()).toEqual({ users: 0, rateWindows: 1, dedupeIds: 0 });
  });
});

describe('per-minute limit', () => {
  it('allows N in a minute, refuses N+1 saying when to retry, and allows again once the minute has passed', async () => {
    let now = 5_000_000;
    const q = queue({ LIMIT_USER_QUEUED: '100', LIMIT_USER_PER_MINUTE: '4' }, { now: () => now });
    const ids = await enqueueOk(q, 'dave', 4);
    now += 1_000;
    const refused = await q.enqueue(payloadBy('dave'));
    expect(refused).toEqual({
      ok: false,
      reason: 'user-rate-limit',
      message: refusalMessage('user-rate-limit', q['config'], RATE_WINDOW_MS - 1_000),
    });
    expect(refused.ok === false && refused.message).toBe('You have started 4 image jobs in the last minute, the most allowed. Try again in 59 seconds.');
    // Cancelling does not give back a per-minute start.
    await q.cancel(ids[0], 'dave');
    expect((await q.enqueue(payloadBy('dave'))).ok).toBe(false);
    now += RATE_WINDOW_MS - 1_000 - 1;
    expect((await q.enqueue(payloadBy('dave'))).ok).toBe(false);
    now += 1;
    // Every start of that minute has now left the window: four fresh ones fit, the fifth does not.
    await enqueueOk(q, 'dave', 4);
    expect(await q.enqueue(payloadBy('dave'))).toMatchObject({ ok: false, reason: 'user-rate-limit' });
  });
});

describe('queue depth cap', () => {
  it('allows exactly LIMIT_QUEUE_DEPTH waiting jobs and admits again when one starts', async () => {
    const q = queue({ LIMIT_QUEUE_DEPTH: '5' });
    for (let i = 0; i < 5; i++) expect((await q.enqueue(payloadBy(`u${i}`))).ok).toBe(true);
    expect(await q.enqueue(payloadBy('u5'))).toEqual({
      ok: false,
      reason: 'queue-full',
      message: 'The image queue is full (5 jobs waiting). Please try again in a few minutes.',
    });
    const worker = gate(q);
    await worker.waitStarted(1);
    expect((await q.enqueue(payloadBy('u5'))).ok).toBe(true);
    expect((await q.enqueue(payloadBy('u6'))).ok).toBe(false);
  });

  it('checks the user limits before the depth cap, so the message is about the user', async () => {
    const q = queue({ LIMIT_QUEUE_DEPTH: '2', LIMIT_USER_QUEUED: '2' });
    await enqueueOk(q, 'erin', 2);
    expect(await q.enqueue(payloadBy('erin'))).toMatchObject({ reason: 'user-queued-limit' });
    expect(await q.enqueue(payloadBy('frank'))).toMatchObject({ reason: 'queue-full' });
  });
});

describe('the worker consumer path on the local queue', () => {
  const model = tinyModel();
  const silent = createLogger({ level: 'silent' });

  async function rig(env: Record<string, string> = {}) {
    const cfg = config({ LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '10000', PROGRESS_INTERVAL_MS: '0', ...SLOW_JOB_LIMITS, ...env });
    const kv = new MemoryKeyValueStore();
    const artifactDir = tempDir('local-artifacts');
    const artifacts = new FsArtifactStore(artifactDir);
    const results = new ResultStore(kv);
    const metrics = createMetrics();
    const deliverer = new RecordingDeliverer();
    const residency = new ModelResidency<WorkerPipeline>(model.catalog, pipelineLoader());
    const delivery = await startDeliverySide({ config: cfg, deliverers: [deliverer], kv, artifacts, metrics, logger: silent, redis: null });
    const runner = new JobRunner({ config: cfg, residency, artifacts, results, kv, outbox: delivery.localOutbox!, metrics, logger: silent, slots: 1, maxBatch: 1 });
    const q = new LocalJobQueue({ config: cfg, secrets: kv });
    let settled = 0;
    const consumer = new LocalQueueConsumer({ config: cfg, queue: q, runner, logger: silent, metrics, concurrency: 1, onSettled: () => settled++ });
    await consumer.start();
    cleanups.push(async () => {
      await consumer.close();
      await delivery.close();
      await q.close();
      await residency.close();
      await fs.rm(artifactDir, { recursive: true, force: true });
    });
    const events = (jobId: string, type: DeliveryEvent['type']) => deliverer.events.filter((e) => e.jobId === jobId && e.type === type);
    const enqueue = async (payload: JobPayload) => {
      const o = await q.enqueue(payload);
      if (!o.ok) throw new Error(o.message);
      return o.jobId;
    };
    return { q, results, artifacts, events, enqueue, metrics, settled: () => settled };
  }

  it('runs a job through the job runner: generated, stored, delivered once, progress on the job', async () => {
    const r = await rig();
    const jobId = await r.enqueue(workerPayload({ n: 2, seed: 1234, steps: 6 }));
    const [event] = (await waitFor('result', () => (r.events(jobId, 'result').length ? r.events(jobId, 'result') : null))) as Extract<DeliveryEvent, { type: 'result' }>[];
    expect(event.seeds).toEqual([1234, 1235]);
    const stored = (await r.results.get(event.resultId))!;
    expect(stored.jobId).toBe(jobId);
    expect(stored.messageId).toBe(`msg-${jobId}`);
    expect(await r.artifacts.get(`${event.resultId}/grid.png`)).not.toBeNull();
    await waitFor('completed', () => r.q.jobState(jobId)?.state === 'completed');
    expect(r.q.jobState(jobId)?.progress).toMatchObject({ step: 6, total: 6 });
    expect(r.settled()).toBe(1);
    expect(await r.q.position(jobId)).toBeNull();
  });

  it('cancel of a running job stops it at the next step, says "Cancelled." once, and is not retried', async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    const jobId = await r.enqueue(workerPayload({ width: 512, height: 512, steps: 400 }));
    await waitFor('job running', () => (r.q.jobState(jobId)?.progress?.step ?? 0) >= 2);
    expect(await r.q.cancel(jobId, workerPayload().origin.userId)).toEqual({ ok: true, state: 'cancelling' });
    const [notice] = await waitFor('failure', () => (r.events(jobId, 'failure').length ? r.events(jobId, 'failure') : null));
    expect(notice).toMatchObject({ message: 'Cancelled.', cancelled: true, retry: false });
    await waitFor('failed', () => r.q.jobState(jobId)?.state === 'failed');
    expect(r.q.jobState(jobId)).toMatchObject({ attemptsMade: 1 });
    expect(r.q.jobState(jobId)!.progress!.step).toBeLessThan(400);
    expect(r.q.isCancelRequested(jobId)).toBe(false);
    expect(r.events(jobId, 'result')).toHaveLength(0);
  });

  it('a source that expired fails at once with the user message and no retry', async () => {
    const r = await rig({ JOB_ATTEMPTS: '3' });
    const jobId = await r.enqueue({ ...workerPayload(), kind: 'upscale', factor: 2, source: { resultId: 'r-gone', index: 0 } } as JobPayload);
    const [notice] = await waitFor('failure', () => (r.events(jobId, 'failure').length ? r.events(jobId, 'failure') : null));
    expect(notice).toMatchObject({ message: 'The image this was made from has expired or was deleted, so it cannot be used any more. Run /imagine again.', retry: false });
    await waitFor('failed', () => r.q.jobState(jobId)?.state === 'failed');
    expect(r.q.jobState(jobId)?.attemptsMade).toBe(1);
  });

  it('a job past its timeout fails with the timeout message and a Retry', async () => {
    const r = await rig({ JOB_TIMEOUT_S: '1', JOB_ATTEMPTS: '3' });
    // Several seconds of work even for the tiny test model, so the 1 s budget always runs out first.
    const jobId = await r.enqueue(workerPayload({ width: 1024, height: 1024, steps: 500, n: 2 }));
    const [notice] = await waitFor('failure', () => (r.events(jobId, 'failure').length ? r.events(jobId, 'failure') : null));
    expect(notice).toMatchObject({ message: 'This took longer than the 1 s limit and was stopped. Try fewer steps, a smaller size or fewer images.', retry: true, cancelled: false });
    await waitFor('failed', () => r.q.jobState(jobId)?.state === 'failed');
    expect(r.q.jobState(jobId)?.attemptsMade).toBe(1);
  });
});
