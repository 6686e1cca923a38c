/** The in-process queue's test worker, shared by the queue tests of that backend. */
import type { JobResult } from '../../src/jobs.ts';
import type { LocalJob, LocalJobQueue } from '../../src/queue/local-queue.ts';
import { waitFor } from '../../kit/worker-fixtures.ts';

/** A processor whose jobs finish only when the test says so (the local twin of the Redis harness's gate). */
export function localGate(q: LocalJobQueue, cleanups: (() => Promise<void>)[], concurrency = 1) {
  const waiting = new Map<string, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>();
  const started: string[] = [];
  const attempts: number[] = [];
  const worker = q.process(
    (job: LocalJob) =>
      new Promise<JobResult>((resolve, reject) => {
        waiting.set(job.id, { resolve, reject });
        started.push(job.id);
        attempts.push(job.attemptsMade);
      }),
    { concurrency },
  );
  const settled = (jobId: string) =>
    new Promise<void>((resolve) => {
      const onDone = (job: LocalJob) => {
        if (job.id !== jobId) return;
        q.off('completed', onDone);
        q.off('failed', onDone);
        resolve();
      };
      q.on('completed', onDone);
      q.on('failed', onDone);
    });
  const g = {
    started,
    attempts,
    async waitStarted(n: number) {
      await waitFor(`${n} jobs started`, () => started.length >= n, 5_000, 5);
    },
    complete(jobId: string) {
      const done = settled(jobId);
      waiting.get(jobId)!.resolve({} as JobResult);
      return done;
    },
    fail(jobId: string, err: Error = new Error('boom')) {
      const done = settled(jobId);
      waiting.get(jobId)!.reject(err);
      return done;
    },
  };
  cleanups.push(async () => {
    for (const w of waiting.values()) w.resolve({} as JobResult);
    await worker.close();
  });
  return g;
}

