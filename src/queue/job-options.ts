/**
 * The job options both queues run by: attempts, backoff and how long finished jobs are kept.
 * BullMQ takes them as its DefaultJobOptions; the in-process queue reads the same numbers, so
 * the two cannot drift apart (and the in-process queue needs no BullMQ for them).
 */
import type { Config } from '../config.ts';

/** The subset of BullMQ's DefaultJobOptions both queues use, in BullMQ's own shape. */
export interface QueueJobOptions {
  attempts: number;
  backoff: { type: 'exponential'; delay: number };
  removeOnComplete: { age: number; count: number };
  removeOnFail: { age: number; count: number };
}

export function defaultJobOptions(config: Pick<Config, 'JOB_ATTEMPTS'>): QueueJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: 5_000 },
    // Finished jobs stay a while for `counts()`, dashboards and late duplicate deliveries, bounded both ways.
    removeOnComplete: { age: 24 * 3600, count: 1_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 5_000 },
  };
}

/**
 * A failure that must not be retried: BullMQ's UnrecoverableError, recognised as BullMQ itself
 * does (by class or by name), so the in-process queue agrees without loading BullMQ.
 */
export function isUnrecoverable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'UnrecoverableError';
}
