/**
 * Admission helpers for the queue tests of both backends (in-process and BullMQ), which assert
 * the same behaviour and so set up their jobs alike.
 */
import { expect } from 'vitest';
import type { JobPayload } from '../../src/jobs.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';

/** The origin override for `user-<n>`. */
export const numberedUser = (n: number) => ({ origin: { userId: `user-${n}` } });

/** A txt2img payload asked for by this user. */
export const payloadBy = (userId: string) => txt2imgPayload({ origin: { userId } });

/** Enqueues n jobs for the user, failing the test on any refusal; their ids in order. */
export async function enqueueOk(q: Pick<JobQueue, 'enqueue'>, userId: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = await q.enqueue(payloadBy(userId));
    if (!o.ok) throw new Error(`enqueue ${i + 1} of ${n} refused: ${o.message}`);
    ids.push(o.jobId);
  }
  return ids;
}

/** What the limit stories need of a test-driven worker: jobs start in order, the test settles each. */
export interface DrivenWorker {
  started: string[];
  waitStarted(n: number): Promise<void>;
  complete(jobId: string): Promise<void>;
  fail(jobId: string): Promise<void>;
}

export const USER_QUEUED_REFUSAL =
  'You already have 3 image jobs queued or running, the most allowed at once. Wait for one to finish or cancel one, then try again.';

/**
 * The queued-per-user limit at 3, told the same way for both backends: 3 allowed and the 4th
 * refused (another user unaffected); a slot freed by cancel, by completion and by a final failure;
 * a running job still counts. `afterFail` lets each backend check the failed job its own way.
 */
export async function userQueuedLimitStory(q: JobQueue, startWorker: () => DrivenWorker | Promise<DrivenWorker>, afterFail: (jobId: string) => unknown): Promise<void> {
  const accepted = async () => (await q.enqueue(payloadBy('alice'))).ok;
  const ids = await enqueueOk(q, 'alice', 3);
  expect(await q.enqueue(payloadBy('alice'))).toEqual({ ok: false, reason: 'user-queued-limit', message: USER_QUEUED_REFUSAL });
  const [bobs] = await enqueueOk(q, 'bob', 1);

  expect(await q.cancel(ids[2], 'alice')).toEqual({ ok: true, state: 'removed' });
  expect([await accepted(), await accepted()]).toEqual([true, false]);

  const worker = await startWorker();
  await worker.waitStarted(1);
  expect(worker.started[0]).toBe(ids[0]);
  expect(await accepted()).toBe(false); // running still counts
  await worker.complete(ids[0]);
  expect([await accepted(), await accepted()]).toEqual([true, false]);

  // Bob's first job has its turn before alice's second (fair turns: src/queue/fair-order.ts).
  await worker.waitStarted(2);
  expect(worker.started[1]).toBe(bobs);
  await worker.complete(bobs);
  await worker.waitStarted(3);
  expect(worker.started[2]).toBe(ids[1]);
  await worker.fail(ids[1]);
  await afterFail(ids[1]);
  expect(await accepted()).toBe(true);
  expect(await q.enqueue(payloadBy('alice'))).toMatchObject({ ok: false, reason: 'user-queued-limit' });
}

/**
 * Positions as a worker takes the line, told the same way for both backends: three jobs from
 * users 1-3; 0 for the running one and 1, 2 behind it; once the first is done, null for it and
 * the others moved up (and the counts say so). Returns the ids; the worker holds the second job.
 */
export async function positionsStory(q: JobQueue, startWorker: () => DrivenWorker | Promise<DrivenWorker>): Promise<string[]> {
  const ids = await enqueueThreeInOrder(q);
  const worker = await startWorker();
  await worker.waitStarted(1);
  expect(worker.started[0]).toBe(ids[0]);
  expect(await Promise.all(ids.map((id) => q.position(id)))).toEqual([0, 1, 2]);
  await worker.complete(ids[0]);
  await worker.waitStarted(2);
  expect(await Promise.all(ids.map((id) => q.position(id)))).toEqual([null, 0, 1]);
  expect(await q.counts()).toMatchObject({ waiting: 1, active: 1, completed: 1 });
  return ids;
}

/** Enqueues three jobs for users 1-3: positions 1, 2, 3, none a duplicate, three distinct ids. */
export async function enqueueThreeInOrder(q: Pick<JobQueue, 'enqueue'>): Promise<string[]> {
  const outcomes = [];
  for (let i = 1; i <= 3; i++) outcomes.push(await q.enqueue(txt2imgPayload({ ...numberedUser(i), prompt: `prompt ${i}` })));
  expect(outcomes.map((o) => o.ok && o.position)).toEqual([1, 2, 3]);
  expect(outcomes.every((o) => o.ok && !o.duplicate)).toBe(true);
  const ids = outcomes.map((o) => (o.ok ? o.jobId : ''));
  expect(new Set(ids).size).toBe(3);
  return ids;
}

/**
 * The prepare step (work only an admitted job may cost, such as fetching a start image), with
 * the per-user limit at 1, told the same way for both backends: a refused job never runs it;
 * while it runs the slot is held (a concurrent request is refused without running its own);
 * what it returns is what is queued; when it throws, the error reaches the caller and the slot,
 * the minute's entry and the dedupe id are given back.
 */
export async function prepareStory(q: JobQueue): Promise<void> {
  const prepared: string[] = [];
  let finish!: () => void;
  const slow = async (p: JobPayload) => {
    prepared.push(p.params.prompt);
    await new Promise<void>((r) => (finish = r));
    return { ...p, params: { ...p.params, prompt: `${p.params.prompt} (prepared)` } } as JobPayload;
  };
  const first = q.enqueue(txt2imgPayload({ origin: { userId: 'erin' }, prompt: 'first' }), { prepare: slow, dedupeId: 'evt-first' });
  await expect.poll(() => prepared).toEqual(['first']);
  const meanwhile = await q.enqueue(txt2imgPayload({ origin: { userId: 'erin' }, prompt: 'second' }), { prepare: slow });
  expect(meanwhile).toMatchObject({ ok: false, reason: 'user-queued-limit' });
  expect(prepared).toEqual(['first']);
  finish();
  const admitted = await first;
  if (!admitted.ok) throw new Error(`refused: ${admitted.message}`);
  expect((await q.userJobs('erin')).map((j) => j.payload.params.prompt)).toEqual(['first (prepared)']);
  expect(await q.cancel(admitted.jobId, 'erin')).toEqual({ ok: true, state: 'removed' });

  const broken = new Error('the attachment could not be read');
  const failing = async () => {
    throw broken;
  };
  await expect(q.enqueue(payloadBy('erin'), { prepare: failing, dedupeId: 'evt-broken' })).rejects.toBe(broken);
  expect(await q.userJobs('erin')).toEqual([]);
  // The slot and the dedupe id are free again: the same event, redelivered, is a new job.
  expect(await q.enqueue(payloadBy('erin'), { dedupeId: 'evt-broken' })).toMatchObject({ ok: true, duplicate: false });
}
