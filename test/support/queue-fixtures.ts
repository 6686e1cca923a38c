/**
 * Admission helpers for the queue tests of both backends (in-process and BullMQ), which assert
 * the same behaviour and so set up their jobs alike.
 */
import type { JobQueue } from '../../src/queue/types.ts';
import { txt2imgPayload } from './job-fixtures.ts';

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
