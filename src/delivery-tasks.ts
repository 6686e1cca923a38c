/**
 * What a generation worker hands to the delivery step, and the one interface it hands it
 * through (the DeliveryOutbox). A worker never talks to a platform: it stores the result and
 * its files, then enqueues a task naming them; the processes holding the platform
 * connections (the bot role; in one-process mode the same process) post it.
 *
 * Tasks are keyed by job and outcome, so enqueueing the same task twice (a worker killed after
 * enqueueing and before completing its job re-runs it) is harmless: the queue keeps one while
 * it is pending, and the delivery ledger keeps the post single in any case.
 */
import { z } from 'zod';
import { failureNoticeSchema, type ProgressUpdate } from './delivery.ts';
import { jobPayloadSchema, originSchema, type JobPayload } from './jobs.ts';

const jobIdSchema = z.string().min(1).max(128);

export const resultTaskSchema = z.object({
  outcome: z.literal('result'),
  jobId: jobIdSchema,
  payload: jobPayloadSchema,
  /** The stored result (ResultStore) whose files the post shows. */
  resultId: z.string().min(1).max(64),
});

export const failureTaskSchema = z.object({
  outcome: z.literal('failure'),
  jobId: jobIdSchema,
  origin: originSchema,
  /** Null for a job whose data failed the schema: the notice cannot repeat what was asked. */
  payload: jobPayloadSchema.nullable(),
  notice: failureNoticeSchema,
});

export const deliveryTaskSchema = z.discriminatedUnion('outcome', [resultTaskSchema, failureTaskSchema]);
export type DeliveryTask = z.infer<typeof deliveryTaskSchema>;

/** A step of a running job, as the worker publishes it (the preview as base64 PNG). */
export const progressNoticeSchema = z.object({
  jobId: jobIdSchema,
  payload: jobPayloadSchema,
  step: z.number().int().min(0),
  total: z.number().int().min(1),
  etaMs: z.number().nullable(),
  preview: z.string().optional(),
});
export type ProgressNotice = z.infer<typeof progressNoticeSchema>;

export function progressNotice(jobId: string, payload: JobPayload, update: ProgressUpdate): ProgressNotice {
  return { jobId, payload, step: update.step, total: update.total, etaMs: update.etaMs, ...(update.preview ? { preview: update.preview.toString('base64') } : {}) };
}

export function progressUpdate(notice: ProgressNotice): ProgressUpdate {
  return { step: notice.step, total: notice.total, etaMs: notice.etaMs, ...(notice.preview ? { preview: Buffer.from(notice.preview, 'base64') } : {}) };
}

/** The queue id of a task: one per job and outcome. */
export function deliveryTaskId(task: Pick<DeliveryTask, 'outcome' | 'jobId'>): string {
  return `${task.outcome}-${task.jobId}`;
}

/** Where a worker hands delivery over (a Redis queue in a fleet, the process itself without Redis). */
export interface DeliveryOutbox {
  /** Durable: resolves once the task is recorded where a bot process will find it. */
  enqueue(task: DeliveryTask): Promise<void>;
  /** Best effort: progress is superseded by the next step, and lost progress costs nothing. */
  progress(notice: ProgressNotice): Promise<void>;
}
