/**
 * One conformance suite for the JobQueue interface, run against both backends: BullMQ on a
 * private redis-server (with a real BullMQ Worker) and the in-process queue (with its own
 * consumer side). Everything here goes through JobQueue alone, so what passes for one backend
 * holds for the other and no caller needs to know which it has.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidJobError } from '../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { LocalJobQueue } from '../../src/queue/local-queue.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import { loadConfig } from '../../src/root/config.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';
import { localGate } from '../support/local-gate.ts';
import { useQueueHarness } from '../support/queue-harness.ts';
import { enqueueOk, enqueueThreeInOrder, numberedUser, payloadBy, positionsStory, userQueuedLimitStory, type DrivenWorker } from '../support/queue-fixtures.ts';

const h = useQueueHarness('queue conformance');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

interface Backend {
  name: 'redis' | 'local';
  available: boolean;
  /** A fresh queue (one attempt per job, so a failure is final at once), with these variables. */
  queue(env?: Record<string, string>): { q: JobQueue; worker(): Promise<DrivenWorker> };
}

const ONE_ATTEMPT = { JOB_ATTEMPTS: '1' };

const backends: Backend[] = [
  {
    name: 'redis',
    get available() {
      return h.available;
    },
    queue(env = {}) {
      const config = h.config({ ...ONE_ATTEMPT, ...env });
      return { q: h.queue(config), worker: () => h.worker(config) };
    },
  },
  {
    name: 'local',
    available: true,
    queue(env = {}) {
      const q = new LocalJobQueue({ config: loadConfig({ LOG_LEVEL: 'silent', ...ONE_ATTEMPT, ...env }), secrets: new MemoryKeyValueStore() });
      cleanups.push(() => q.close());
      return { q, worker: async () => localGate(q, cleanups) };
    },
  },
];

describe.each(backends)('the $name queue', (backend) => {
  const run = it.skipIf(!backend.available);

  run('names its backend, and runs its jobs in this process only when it is the in-process queue', () => {
    const { q } = backend.queue();
    expect(q.backend).toBe(backend.name);
    expect(q.inProcess === null).toBe(backend.name === 'redis');
  });

  run('enqueues in order, one job per dedupe id, and refuses a malformed payload before storing anything', async () => {
    const { q } = backend.queue();
    const [first] = await enqueueThreeInOrder(q);
    const again = await q.enqueue(payloadBy('user-9'), { dedupeId: 'evt-1' });
    const redelivered = await q.enqueue(payloadBy('user-9'), { dedupeId: 'evt-1' });
    expect(again).toMatchObject({ ok: true, position: 4, duplicate: false });
    expect(redelivered).toEqual({ ...again, duplicate: true });
    const bad = await q.enqueue({ ...payloadBy('user-10'), v: 2 } as never).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidJobError);
    expect(await q.counts()).toEqual({ waiting: 4, active: 0, completed: 0, failed: 0, delayed: 0 });
    expect(await q.position(first)).toBe(1);
  });

  run('tells positions as a worker takes the line: 0 running, 1.. waiting, null once done', async () => {
    const { q, worker } = backend.queue();
    await positionsStory(q, worker);
  });

  run('holds a user to LIMIT_USER_QUEUED, freeing the slot on cancel, completion and failure', async () => {
    const { q, worker } = backend.queue();
    await userQueuedLimitStory(q, worker, async (id) => expect(await q.position(id)).toBeNull());
  });

  run('refuses past the per-minute rate and past the queue depth, with the reason', async () => {
    const rate = backend.queue({ LIMIT_USER_PER_MINUTE: '2' }).q;
    const [a] = await enqueueOk(rate, 'rita', 2);
    expect(await rate.cancel(a, 'rita')).toEqual({ ok: true, state: 'removed' });
    // A cancelled job still counts in the minute it was asked in.
    expect(await rate.enqueue(payloadBy('rita'))).toMatchObject({ ok: false, reason: 'user-rate-limit' });
    const full = backend.queue({ LIMIT_QUEUE_DEPTH: '2' }).q;
    await enqueueOk(full, 'u1', 1);
    await enqueueOk(full, 'u2', 1);
    expect(await full.enqueue(payloadBy('u3'))).toMatchObject({ ok: false, reason: 'queue-full' });
  });

  run('cancels a waiting job for its owner only, flags a running one, and refuses unknown and finished ones', async () => {
    const { q, worker } = backend.queue();
    const [running, waiting] = await enqueueOk(q, 'carol', 2);
    const w = await worker();
    await w.waitStarted(1);
    expect(w.started[0]).toBe(running);
    expect(await q.cancel(waiting, 'mallory')).toMatchObject({ ok: false, reason: 'not-owner' });
    expect(await q.cancel(waiting, 'carol')).toEqual({ ok: true, state: 'removed' });
    expect(await q.position(waiting)).toBeNull();
    expect(await q.cancel(running, 'carol')).toEqual({ ok: true, state: 'cancelling' });
    expect(await q.cancel('no-such-job', 'carol')).toMatchObject({ ok: false, reason: 'not-found' });
    await w.complete(running);
    expect(await q.cancel(running, 'carol')).toMatchObject({ ok: false, reason: 'finished' });
  });

  run("lists a user's live jobs with their payloads, and looks up any kept job's payload (a failed one's for Retry)", async () => {
    const { q, worker } = backend.queue();
    const asked = txt2imgPayload({ origin: { userId: 'dora' }, prompt: 'a lighthouse', seed: 5 });
    const o = await q.enqueue(asked);
    if (!o.ok) throw new Error(o.message);
    expect(await q.jobPayload(o.jobId)).toEqual(asked);
    expect(await q.userJobs('dora')).toEqual([{ jobId: o.jobId, state: 'waiting', position: 1, payload: asked }]);
    expect(await q.userJobs('nobody')).toEqual([]);

    const w = await worker();
    await w.waitStarted(1);
    expect(await q.userJobs('dora')).toEqual([{ jobId: o.jobId, state: 'active', position: 0, payload: asked }]);
    await w.fail(o.jobId);
    expect(await q.userJobs('dora')).toEqual([]);
    // Failed for good, and kept: Retry runs this payload again.
    expect(await q.jobPayload(o.jobId)).toEqual(asked);
    expect(await q.jobPayload('no-such-job')).toBeNull();
  });

  run("lists a user's waiting and running jobs oldest first, with the queue's positions among everyone's", async () => {
    const { q, worker } = backend.queue();
    const mine: string[] = [];
    for (const n of [1, 2, 1, 1]) {
      const o = await q.enqueue(txt2imgPayload({ ...numberedUser(n), prompt: `p${mine.length}` }));
      if (o.ok && n === 1) mine.push(o.jobId);
    }
    const w = await worker();
    await w.waitStarted(1);
    const jobs = await q.userJobs('user-1');
    expect(jobs.map((j) => [j.jobId, j.state, j.position])).toEqual([
      [mine[0], 'active', 0],
      [mine[1], 'waiting', 2],
      [mine[2], 'waiting', 3],
    ]);
    expect(jobs[1].payload).toEqual(txt2imgPayload({ ...numberedUser(1), prompt: 'p1' }));
    await w.complete(mine[0]);
    expect((await q.userJobs('user-1')).map((j) => j.jobId)).toEqual([mine[1], mine[2]]);
  });

  run('counts jobs by state', async () => {
    const { q, worker } = backend.queue();
    expect(await q.counts()).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0 });
    const [done, failed, left] = await enqueueThreeInOrder(q);
    const w = await worker();
    await w.waitStarted(1);
    expect(await q.counts()).toEqual({ waiting: 2, active: 1, completed: 0, failed: 0, delayed: 0 });
    await w.complete(done);
    await w.waitStarted(2);
    await w.fail(failed);
    await w.waitStarted(3);
    expect(w.started).toEqual([done, failed, left]);
    expect(await q.counts()).toEqual({ waiting: 0, active: 1, completed: 1, failed: 1, delayed: 0 });
  });
});
