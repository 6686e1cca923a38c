/** BullmqJobQueue on a real Redis: enqueue, position, cancel, user jobs, dedupe, validation. */
import { describe, expect, it } from 'vitest';
import { InvalidJobError } from '../../src/jobs.ts';
import { subscribeCancels } from '../../src/queue/cancel-signal.ts';
import { defaultJobOptions } from '../../src/queue/job-options.ts';
import { waitListKey } from '../../src/queue/keys.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';
import { keysUnder, useQueueHarness } from '../support/queue-harness.ts';
import { enqueueThreeInOrder, numberedUser, positionsStory } from '../support/queue-fixtures.ts';
import { responseUrlGrant } from '../../adapters/slack/secret.ts';

const h = useQueueHarness('queue');


describe.skipIf(!h.available)('enqueue and position', () => {
  it('returns a job id and the 1-based position; the job data is the payload and nothing else (no time budget for a worker to trust)', async () => {
    const config = h.config({ JOB_TIMEOUT_S: '120', JOB_ATTEMPTS: '4' });
    const q = h.queue(config);
    const ids = await enqueueThreeInOrder(q);

    const job = await q.queue.getJob(ids[1]);
    expect(job!.name).toBe('txt2img');
    expect(job!.data).toEqual(txt2imgPayload({ ...numberedUser(2), prompt: 'prompt 2' }));
    expect(job!.opts.attempts).toBe(4);
    expect(job!.opts.backoff).toEqual({ type: 'exponential', delay: 5_000 });
    expect(job!.opts.removeOnComplete).toEqual(defaultJobOptions(config).removeOnComplete);
    expect(job!.opts.removeOnFail).toEqual(defaultJobOptions(config).removeOnFail);

    expect(await h.connection().zcard(waitListKey(config))).toBe(3);
    expect(await q.position(ids[2])).toBe(3);
    expect(await q.position('no-such-job')).toBeNull();
    expect(await q.counts()).toEqual({ waiting: 3, active: 0, completed: 0, failed: 0, delayed: 0 });
  });

  it('reports 0 for the running job, moves the others up, and null once finished', async () => {
    const config = h.config();
    await positionsStory(h.queue(config), () => h.worker(config));
  });

  it('waitListKey is the set BullMQ adds prioritized jobs to, under the hash-tagged prefix, one per model queue', () => {
    const config = { QUEUE_PREFIX: '{imagine}', QUEUE_NAME: 'imagine' };
    const lanes = { defaultModel: 'sd15', models: ['sd15', 'sdxl'] };
    expect(waitListKey(config)).toBe('{imagine}:imagine:prioritized');
    expect(waitListKey(config, 'sd15', lanes)).toBe('{imagine}:imagine:prioritized');
    expect(waitListKey(config, 'sdxl', lanes)).toBe('{imagine}:imagine-m-sdxl:prioritized');
  });
});

describe.skipIf(!h.available)('cancel', () => {
  it('removes a waiting job, frees its place in line, and only for its owner', async () => {
    const config = h.config();
    const q = h.queue(config);
    const a = await q.enqueue(txt2imgPayload(numberedUser(1)));
    const b = await q.enqueue(txt2imgPayload(numberedUser(2)));
    if (!a.ok || !b.ok) throw new Error('enqueue refused');

    expect(await q.cancel(a.jobId, 'user-2')).toEqual({ ok: false, reason: 'not-owner', message: expect.stringContaining('Only the person') });
    expect(await q.cancel(a.jobId, 'user-1')).toEqual({ ok: true, state: 'removed' });
    expect(await q.queue.getJob(a.jobId)).toBeUndefined();
    expect(await q.position(a.jobId)).toBeNull();
    expect(await q.position(b.jobId)).toBe(1);
    expect(await q.cancel(a.jobId, 'user-1')).toMatchObject({ ok: false, reason: 'not-found' });
    expect(await q.userJobs('user-1')).toEqual([]);
  });

  it('flags a running job (flag key + pub/sub) instead of removing it; a finished job cannot be cancelled', async () => {
    const config = h.config({ JOB_TIMEOUT_S: '100', JOB_ATTEMPTS: '2' });
    const q = h.queue(config);
    const heard: string[] = [];
    const sub = await subscribeCancels(h.connection(), config, (id) => heard.push(id));
    try {
      const o = await q.enqueue(txt2imgPayload(numberedUser(1)));
      if (!o.ok) throw new Error('refused');
      const worker = await h.worker(config);
      await worker.waitStarted(1);
      expect(await q.isCancelRequested(o.jobId)).toBe(false);
      expect(await q.cancel(o.jobId, 'user-1')).toEqual({ ok: true, state: 'cancelling' });
      expect(await q.isCancelRequested(o.jobId)).toBe(true);
      const ttl = await h.connection().ttl(q.keys.cancelFlag(o.jobId));
      expect(ttl).toBeGreaterThan(100 * 2);
      expect(ttl).toBeLessThanOrEqual(100 * 2 + 600);
      for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(heard).toEqual([o.jobId]);
      // Still there: the worker decides when it stops.
      expect(await q.position(o.jobId)).toBe(0);
      await worker.complete(o.jobId);
      expect(await q.cancel(o.jobId, 'user-1')).toMatchObject({ ok: false, reason: 'finished' });
    } finally {
      await sub.close();
    }
  });
});

describe.skipIf(!h.available)('deduplication', () => {
  it('the same platform event enqueues one job; the repeat gets the first job id', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '1' });
    const q = h.queue(config);
    const first = await q.enqueue(txt2imgPayload(numberedUser(1)), { dedupeId: 'interaction-123' });
    const again = await q.enqueue(txt2imgPayload(numberedUser(1)), { dedupeId: 'interaction-123' });
    if (!first.ok) throw new Error('refused');
    // A repeat is not a new request, so the user's limit of 1 does not refuse it.
    expect(again).toEqual({ ok: true, jobId: first.jobId, position: 1, duplicate: true });
    expect(await q.counts()).toMatchObject({ waiting: 1 });
    const other = await q.enqueue(txt2imgPayload(numberedUser(2)), { dedupeId: 'interaction-456' });
    expect(other).toMatchObject({ ok: true, duplicate: false, position: 2 });
  });

  it('20 concurrent deliveries of one event from 5 connections make exactly one job', async () => {
    const config = h.config();
    const queues = Array.from({ length: 5 }, () => h.queue(config));
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => queues[i % 5].enqueue(txt2imgPayload(numberedUser(1)), { dedupeId: 'evt-1' })));
    const ids = new Set(outcomes.map((o) => (o.ok ? o.jobId : 'refused')));
    expect(ids.size).toBe(1);
    expect(outcomes.filter((o) => o.ok && !o.duplicate)).toHaveLength(1);
    expect(outcomes.every((o) => o.ok && o.position === 1)).toBe(true);
    expect(await h.connection().zcard(waitListKey(config))).toBe(1);
  });
});

describe.skipIf(!h.available)('validation at enqueue', () => {
  it('an invalid payload throws InvalidJobError and writes nothing to Redis', async () => {
    const config = h.config();
    const q = h.queue(config);
    // BullMQ writes its queue metadata key when it connects; that key is the only one allowed.
    await q.queue.waitUntilReady();
    const bad = { ...txt2imgPayload(), params: { ...txt2imgPayload().params, steps: 0 } };
    const err = await q.enqueue(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidJobError);
    expect((err as InvalidJobError).detail).toMatch(/^params\.steps:/);
    expect((err as InvalidJobError).userMessage).toMatch(/malformed/);
    expect(await keysUnder(h.connection(), config.QUEUE_PREFIX)).toEqual([q.keys.base + ':meta']);
  });

  it('an unknown payload version is refused the same way', async () => {
    const config = h.config();
    const q = h.queue(config);
    await q.queue.waitUntilReady();
    const future = { ...txt2imgPayload(), v: 2 } as unknown as ReturnType<typeof txt2imgPayload>;
    const err = await q.enqueue(future).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidJobError);
    expect((err as InvalidJobError).detail).toBe('unsupported job version 2');
    expect(await keysUnder(h.connection(), config.QUEUE_PREFIX)).toEqual([q.keys.base + ':meta']);
  });

  it('a secret for another platform than the job is refused before anything is stored', async () => {
    const config = h.config();
    const q = h.queue(config);
    await q.queue.waitUntilReady();
    const err = await q.enqueue(txt2imgPayload(), { secret: responseUrlGrant('https://hooks.slack.com/commands/T1/1/abc') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidJobError);
    expect(await keysUnder(h.connection(), config.QUEUE_PREFIX)).toEqual([q.keys.base + ':meta']);
  });
});
