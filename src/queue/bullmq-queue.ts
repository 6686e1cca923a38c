/**
 * The JobQueue on BullMQ + Redis, for fleets: adapters enqueue here, workers (BullMQ Worker
 * on the same QUEUE_NAME and QUEUE_PREFIX) consume.
 *
 * Enqueue = validate -> atomic admission (limits.ts: dedupe + per-user caps + depth cap,
 * reserving the slot) -> the caller's prepare step, if any (released on failure) -> store the
 * platform secret under its own expiring key -> BullMQ add -> commit the reservation. Job data is
 * the validated payload and nothing else; secrets are never in it, and neither is anything a
 * worker should trust beyond the payload's own checks (its time budget is the worker's JOB_TIMEOUT_S).
 *
 * What a worker must do when a job ends: nothing for the limits (a user's slot is freed as
 * soon as BullMQ marks the job finished or removes it). For cancellation it must watch
 * `subscribeCancels` / `isCancelRequested` (cancel-signal.ts) and fail a cancelled job
 * without retry (BullMQ UnrecoverableError).
 */
import { randomUUID } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import type { Config } from '../config.ts';
import { jobPayloadSchema, type JobPayload } from '../jobs.ts';
import type { KeyValueStore } from '../kv.ts';
import { RedisKeyValueStore } from '../kv-redis.ts';
import { createLogger, type Logger } from '../logger.ts';
import { storeSecret } from '../platform-secrets.ts';
// Redis: a connection to one Redis or to a Redis Cluster.
import { closeRedis, redisFromConfig, type RedisClient as Redis } from '../redis.ts';
import { CANCEL_REFUSALS } from './cancel-outcomes.ts';
import { isCancelRequested, requestCancel } from './cancel-signal.ts';
import { validateEnqueue, validatePrepared } from './enqueue-validation.ts';
import { fairPriority } from './fair-order.ts';
import { queueKeys, type LaneKeys, type ModelLanes, type QueueKeys } from './keys.ts';
import { commitSlot, forgetUserJob, releaseSlot, reserveSlot, userJobIds, type ReserveRequest } from './limits.ts';
import { jobPosition } from './position.ts';
import { defaultJobOptions } from './job-options.ts';
import type { CancelOutcome, EnqueueOptions, EnqueueOutcome, JobQueue, JobState, JobSummary, QueueCounts, QueuedJobData } from './types.ts';

export type BullmqQueueConfig = Pick<
  Config,
  'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'QUEUE_PREFIX' | 'QUEUE_NAME' | 'JOB_ATTEMPTS' | 'JOB_TIMEOUT_S' | 'LIMIT_USER_QUEUED' | 'LIMIT_USER_PER_MINUTE' | 'LIMIT_QUEUE_DEPTH'
>;

export interface BullmqJobQueueOptions {
  config: BullmqQueueConfig;
  /** A client-role connection to share; when absent one is made from REDIS_URL and closed by close(). */
  redis?: Redis;
  /** Where platform secrets go; defaults to the Redis store under the queue prefix (where workers look). */
  secrets?: KeyValueStore;
  logger?: Logger;
  /**
   * The model catalog's names: each model's jobs go to its own BullMQ queue (keys.ts
   * ModelLanes), which only workers serving it consume. Absent: one queue for every job.
   */
  models?: ModelLanes;
}

export class BullmqJobQueue implements JobQueue {
  readonly backend = 'redis' as const;
  /** Workers take the jobs from Redis, in whichever process they run. */
  readonly inProcess = null;
  /** The underlying BullMQ queue of the default model (or of every job without model lanes). */
  readonly queue: Queue;
  /** Every model's BullMQ queue by queue name, the default one first. */
  readonly queues: Map<string, Queue>;
  readonly keys: QueueKeys;
  readonly redis: Redis;
  private readonly secrets: KeyValueStore;
  private readonly ownsRedis: boolean;
  private readonly config: BullmqQueueConfig;
  private readonly logger: Logger;

  constructor(opts: BullmqJobQueueOptions) {
    this.config = opts.config;
    this.logger = opts.logger ?? createLogger({ name: 'queue' });
    this.ownsRedis = !opts.redis;
    this.redis = opts.redis ?? redisFromConfig(opts.config, { role: 'client', name: 'queue', logger: this.logger });
    this.keys = queueKeys(opts.config, opts.models);
    this.secrets = opts.secrets ?? RedisKeyValueStore.fromConfig(this.redis, opts.config);
    this.queues = new Map(
      this.keys.lanes.map((lane) => {
        const queue = new Queue(lane.name, { connection: this.redis, prefix: opts.config.QUEUE_PREFIX, defaultJobOptions: defaultJobOptions(opts.config) });
        queue.on('error', (err: Error) => this.logger.warn({ queue: lane.name, err: { message: err.message } }, 'queue error'));
        return [lane.name, queue] as const;
      }),
    );
    this.queue = this.queues.get(opts.config.QUEUE_NAME)!;
  }

  /** The lane (model queue) a job goes to: its model's, or the main one for a model without its own. */
  laneFor(payload: JobPayload): LaneKeys {
    const model = payload.params.model.toLowerCase();
    return this.keys.lanes.find((l) => l.model === model) ?? this.keys.lanes[0];
  }

  /** A job by id, in whichever model queue holds it. */
  async getJob(jobId: string): Promise<Job | undefined> {
    for (const queue of this.queues.values()) {
      const job = await queue.getJob(jobId);
      if (job) return job;
    }
    return undefined;
  }

  /** BullMQ keeps failed jobs (removeOnFail by age and count): their payloads are what Retry runs again. */
  async jobPayload(jobId: string): Promise<JobPayload | null> {
    const parsed = jobPayloadSchema.safeParse((await this.getJob(jobId))?.data);
    return parsed.success ? parsed.data : null;
  }

  async enqueue(input: JobPayload, opts: EnqueueOptions = {}): Promise<EnqueueOutcome> {
    const { payload, secret } = validateEnqueue(input, opts.secret);
    const req: ReserveRequest = { jobId: randomUUID(), userId: payload.origin.userId, clientKey: opts.clientKey, dedupeId: opts.dedupeId };

    const reservation = await reserveSlot(this.redis, this.keys, this.config, req);
    if (reservation.kind === 'refused') return { ok: false, reason: reservation.reason, message: reservation.message };
    if (reservation.kind === 'duplicate') {
      return { ok: true, jobId: reservation.jobId, position: await this.settledPosition(reservation.jobId), duplicate: true };
    }

    let queued = payload;
    if (opts.prepare) {
      try {
        queued = validatePrepared(payload, await opts.prepare(payload));
      } catch (err) {
        await releaseSlot(this.redis, this.keys, req).catch((releaseErr: Error) => this.logger.warn({ jobId: req.jobId, err: { message: releaseErr.message } }, 'could not release queue reservation'));
        throw err;
      }
    }
    const data: QueuedJobData = queued;
    try {
      // Stored before the add so a worker that picks the job at once finds it.
      if (secret) await storeSecret(this.secrets, req.jobId, secret);
      const lane = this.laneFor(queued);
      // Its turn in the model's line (fair-order.ts): round robin over workspaces and their users.
      const priority = await fairPriority(this.redis, this.keys, lane, queued.origin);
      await this.queues.get(lane.name)!.add(queued.kind, data, { jobId: req.jobId, priority });
    } catch (err) {
      await Promise.allSettled([releaseSlot(this.redis, this.keys, req), this.secrets.del(`secret:${req.jobId}`)]);
      throw new Error(`enqueue of a ${queued.kind} job failed: ${(err as Error).message}`, { cause: err });
    }
    try {
      await commitSlot(this.redis, this.keys, req.jobId);
    } catch (err) {
      // Harmless: the reservation expires after its grace period and the job hash already counts.
      this.logger.warn({ jobId: req.jobId, err: { message: (err as Error).message } }, 'could not commit queue reservation');
    }
    return { ok: true, jobId: req.jobId, position: (await this.position(req.jobId)) ?? 0, duplicate: false };
  }

  position(jobId: string): Promise<number | null> {
    return jobPosition(this.redis, this.keys, jobId);
  }

  async cancel(jobId: string, byUserId: string): Promise<CancelOutcome> {
    const job = await this.getJob(jobId);
    if (!job) return CANCEL_REFUSALS['not-found'];
    const owner = (job.data as { origin?: { userId?: unknown } } | undefined)?.origin?.userId;
    if (owner !== byUserId) return CANCEL_REFUSALS['not-owner'];

    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return CANCEL_REFUSALS.finished;
    if (state !== 'active' && (await this.queues.get(job.queueName)!.remove(jobId)) === 1) {
      await Promise.all([forgetUserJob(this.redis, this.keys, byUserId, jobId), this.secrets.del(`secret:${jobId}`)]);
      return { ok: true, state: 'removed' };
    }
    // Running (or it started between getState and remove, which refuses locked jobs).
    await requestCancel(this.redis, this.config, jobId);
    return { ok: true, state: 'cancelling' };
  }

  /** Whether cancellation of a running job was requested (workers poll this between steps). */
  isCancelRequested(jobId: string): Promise<boolean> {
    return isCancelRequested(this.redis, this.config, jobId);
  }

  async userJobs(userId: string): Promise<JobSummary[]> {
    const out: JobSummary[] = [];
    for (const jobId of await userJobIds(this.redis, this.keys, userId)) {
      const job = await this.getJob(jobId);
      if (!job) continue;
      const state = toJobState(await job.getState());
      if (state !== 'waiting' && state !== 'active') continue;
      const payload = jobPayloadSchema.safeParse(job.data);
      if (!payload.success) continue;
      out.push({ jobId, state, position: await this.position(jobId), payload: payload.data });
    }
    return out;
  }

  /** Summed over every model queue. */
  counts(): Promise<QueueCounts> {
    return sumJobCounts([...this.queues.values()]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    if (this.ownsRedis) await closeRedis(this.redis);
  }

  /**
   * A duplicate delivery can arrive while the first one is between reserve and add; wait
   * briefly for the job to appear so the user is told a real position. 0 when the first job
   * is no longer waiting.
   */
  private async settledPosition(jobId: string): Promise<number> {
    for (let i = 0; i < 40; i++) {
      if ((await this.redis.zscore(this.keys.pending, jobId)) === null) break;
      if (await this.redis.exists(...this.keys.lanes.map((l) => l.jobPrefix + jobId))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return (await this.position(jobId)) ?? 0;
  }
}

/** Job counts of several BullMQ queues together (prioritized jobs are waiting ones). */
export async function sumJobCounts(queues: readonly Queue[]): Promise<QueueCounts> {
  const total: QueueCounts = { waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0 };
  for (const queue of queues) {
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
    total.waiting += (c.waiting ?? 0) + (c.prioritized ?? 0);
    total.active += c.active ?? 0;
    total.completed += c.completed ?? 0;
    total.failed += c.failed ?? 0;
    total.delayed += c.delayed ?? 0;
  }
  return total;
}

function toJobState(state: string): JobState {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'delayed':
    case 'waiting-children':
      return 'waiting';
    case 'active':
    case 'completed':
    case 'failed':
      return state;
    default:
      return 'unknown';
  }
}
