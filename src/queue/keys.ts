/**
 * Redis key names of the queue. BullMQ names its keys `<prefix>:<queue>:<suffix>`; ours
 * (limits, cancel flags) sit beside them under the same prefix, so with the default
 * `{imagine}` hash tag every key of the queue lands in one Redis Cluster slot and the Lua
 * scripts may touch them together.
 */
import type { Config } from '../config.ts';

export type QueueKeyConfig = Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_NAME'>;

export function queueKeys(config: QueueKeyConfig) {
  const base = `${config.QUEUE_PREFIX}:${config.QUEUE_NAME}`;
  return {
    base,
    /** BullMQ's own keys. */
    wait: `${base}:wait`,
    paused: `${base}:paused`,
    active: `${base}:active`,
    delayed: `${base}:delayed`,
    prioritized: `${base}:prioritized`,
    /** A job's hash is `<base>:<jobId>`; scripts append the id to this. */
    jobPrefix: `${base}:`,
    /** Reservations whose BullMQ add has not been confirmed yet (id -> reserved at, ms). */
    pending: `${base}:limits:pending`,
    /** A user's jobs that are reserved, waiting or running (id -> reserved at, ms). */
    userJobs: (userId: string) => `${base}:limits:user:${userId}`,
    /** A user's enqueues in the last minute (id -> ms). */
    userRate: (userId: string) => `${base}:limits:rate:${userId}`,
    /** A client's (EnqueueOptions.clientKey) jobs that are reserved, waiting or running, and its last minute's enqueues. */
    clientJobs: (clientKey: string) => `${base}:limits:client:${clientKey}`,
    clientRate: (clientKey: string) => `${base}:limits:client-rate:${clientKey}`,
    /** Platform event id -> the job it created. */
    dedupe: (dedupeId: string) => `${base}:limits:dedupe:${dedupeId}`,
    /** Present while cancellation of a running job is requested. */
    cancelFlag: (jobId: string) => `${base}:cancel:${jobId}`,
    /** Pub/sub channel carrying the ids of jobs whose cancellation was requested. */
    cancelChannel: `${base}:cancel-requests`,
    /** Pub/sub channel carrying running jobs' progress steps (ProgressNotice JSON) to the bot side. */
    progressChannel: `${base}:progress`,
    /** The BullMQ queue of delivery tasks (beside the jobs' queue, same prefix and slot). */
    deliveryQueueName: `${config.QUEUE_NAME}-deliveries`,
  };
}

export type QueueKeys = ReturnType<typeof queueKeys>;

/**
 * The list a KEDA `redis` scaler must watch to scale workers on waiting jobs,
 * e.g. `{imagine}:imagine:wait`. Deploy manifests are checked against this.
 */
export function waitListKey(config: QueueKeyConfig): string {
  return queueKeys(config).wait;
}
