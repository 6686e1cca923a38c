/**
 * Redis key names of the queue. BullMQ names its keys `<prefix>:<queue>:<suffix>`; ours
 * (limits, cancel flags) sit beside them under the same prefix, so with the default
 * `{imagine}` hash tag every key of the queue lands in one Redis Cluster slot and the Lua
 * scripts may touch them together.
 */
import type { Config } from '../config.ts';

export type QueueKeyConfig = Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_NAME'>;

/**
 * Which models have a BullMQ queue of their own (model-aware routing: a worker consumes only
 * the queues of the models it serves). The catalog's default model keeps the plain QUEUE_NAME
 * queue, so a single-model deployment's keys are what they always were; every other model
 * gets `<QUEUE_NAME>-m-<model>` (BullMQ refuses ':' in a queue name; the prefix, and with it
 * the cluster slot, is shared).
 */
export interface ModelLanes {
  defaultModel: string;
  models: readonly string[];
}

/** A BullMQ queue's own keys: one lane of jobs in the order they are taken. */
export function laneKeys(prefix: string, name: string, model: string | null) {
  const base = `${prefix}:${name}`;
  return {
    /** The BullMQ queue name. */
    name,
    /** The model whose jobs this queue holds; null = every job (no routing configured). */
    model,
    wait: `${base}:wait`,
    paused: `${base}:paused`,
    active: `${base}:active`,
    delayed: `${base}:delayed`,
    /** Where BullMQ keeps jobs added with a priority: every job here (fair-order.ts). */
    prioritized: `${base}:prioritized`,
    /** A job's hash is `<base>:<jobId>`; scripts append the id to this. */
    jobPrefix: `${base}:`,
  };
}

export type LaneKeys = ReturnType<typeof laneKeys>;

export function modelQueueName(config: QueueKeyConfig, model: string, lanes: ModelLanes): string {
  return model === lanes.defaultModel ? config.QUEUE_NAME : `${config.QUEUE_NAME}-m-${model}`;
}

export function queueKeys(config: QueueKeyConfig, models?: ModelLanes) {
  const base = `${config.QUEUE_PREFIX}:${config.QUEUE_NAME}`;
  const main = laneKeys(config.QUEUE_PREFIX, config.QUEUE_NAME, models ? models.defaultModel : null);
  const others = (models?.models ?? []).filter((m) => m !== models!.defaultModel).map((m) => laneKeys(config.QUEUE_PREFIX, modelQueueName(config, m, models!), m));
  return {
    base,
    /** BullMQ's own keys of the main queue (the default model's, or every job's without routing). */
    ...main,
    /** Every job queue, the main one first. */
    lanes: [main, ...others],
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
    /** Fair turns (fair-order.ts): a lane's highest round given; per workspace its users' last rounds and its jobs per round. */
    fairMax: (lane: string) => `${base}:fair:${lane}:max`,
    fairWorkspace: (lane: string, workspace: string) => `${base}:fair:${lane}:ws:${workspace}`,
    fairRounds: (lane: string, workspace: string) => `${base}:fair:${lane}:rounds:${workspace}`,
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
 * The key a KEDA `redis` scaler must watch to scale a model's workers on its waiting jobs:
 * the model queue's prioritized set (every job is added with a fair-order priority; KEDA's
 * redis scaler counts a sorted set with ZCARD), e.g. `{imagine}:imagine:prioritized` for the
 * default model. Deploy manifests are checked against this.
 */
export function waitListKey(config: QueueKeyConfig, model?: string, lanes?: ModelLanes): string {
  const name = model && lanes ? modelQueueName(config, model, lanes) : config.QUEUE_NAME;
  return laneKeys(config.QUEUE_PREFIX, name, model ?? null).prioritized;
}
