/**
 * Delivery tasks on Redis: a second BullMQ queue (`<QUEUE_NAME>-deliveries`) that workers add
 * to once a result is stored, and that the bot role consumes; and a pub/sub channel for
 * progress steps.
 *
 * Crash rules:
 * - worker killed after storing the result and before the add: its generation job stalls and
 *   re-runs; the re-run finds the stored result and adds the same task (same id);
 * - bot killed while posting: the task's lock expires and the stall check hands it to another
 *   (or the restarted) bot, whose ledger takeover posts with the same idempotency key;
 * - Redis restarted: tasks are queue entries, kept by Redis persistence like the jobs are;
 * - Redis failing under the delivery step (a Cluster failover, an outage longer than a client
 *   command waits): the task is tried again after a backoff, up to TASK_ATTEMPTS times.
 * Retries of the platform call belong to the delivery service alone: a post it gave up on is
 * recorded there and ends the task, so a failing post is never retried by two layers at once.
 * BullMQ's attempts cover only what failed before a post could be made (Redis, the artifact
 * store); a task that cannot succeed (its result gone) or whose post was made but not marked
 * (another try would post twice) ends at once.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '../config.ts';
import { PermanentDeliveryError } from '../delivery.ts';
import { UnmarkedPostError } from '../delivery-ledger.ts';
import type { DeliveryService } from '../delivery-service.ts';
import { deliveryTaskId, deliveryTaskSchema, progressNoticeSchema, type DeliveryOutbox, type DeliveryTask, type ProgressNotice } from '../delivery-tasks.ts';
import type { Logger } from '../logger.ts';
import { closeRedis, duplicateRedis, type RedisClient } from '../redis.ts';
import { queueKeys, type QueueKeyConfig } from './keys.ts';

/** Finished tasks are kept a while (their ids dedupe late re-adds), then dropped; the ledger outlives them. */
const KEEP_DONE = { age: 3600, count: 10_000 };
const KEEP_FAILED = { age: 7 * 86_400 };
/** Tries of a task whose delivery step failed on Redis or storage: backoff 1 s, 2 s, ... about 8.5 min in all. */
const TASK_ATTEMPTS = 10;
const TASK_BACKOFF = { type: 'exponential', delay: 1000 } as const;

export class RedisDeliveryOutbox implements DeliveryOutbox {
  readonly queue: Queue;
  private readonly channel: string;

  constructor(private readonly redis: RedisClient, config: QueueKeyConfig, private readonly logger: Logger) {
    const keys = queueKeys(config);
    this.channel = keys.progressChannel;
    this.queue = new Queue(keys.deliveryQueueName, {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      defaultJobOptions: { attempts: TASK_ATTEMPTS, backoff: TASK_BACKOFF, removeOnComplete: KEEP_DONE, removeOnFail: KEEP_FAILED },
    });
    this.queue.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'delivery queue error'));
  }

  async enqueue(task: DeliveryTask): Promise<void> {
    await this.queue.add(task.outcome, deliveryTaskSchema.parse(task), { jobId: deliveryTaskId(task) });
  }

  async progress(notice: ProgressNotice): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(notice));
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface DeliveryConsumerOptions {
  config: Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_NAME'>;
  /** A worker-role connection (maxRetriesPerRequest null); BullMQ duplicates it for blocking reads. */
  connection: RedisClient;
  service: DeliveryService;
  logger: Logger;
  /** Posts in flight at once (uploads wait on the network, not on this process). */
  concurrency?: number;
  /** How soon a task held by a killed bot is handed to another. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** The bot side: takes delivery tasks and progress steps and hands them to the delivery service. */
export class DeliveryConsumer {
  private readonly worker: Worker;
  private subscriber: RedisClient | null = null;

  constructor(private readonly opts: DeliveryConsumerOptions) {
    const keys = queueKeys(opts.config);
    this.worker = new Worker(keys.deliveryQueueName, (job: Job) => this.run(job), {
      connection: opts.connection,
      prefix: opts.config.QUEUE_PREFIX,
      concurrency: opts.concurrency ?? 16,
      autorun: false,
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      // A bot that dies while posting is a stall, not a failed try: hand the task on a few times.
      maxStalledCount: 5,
    });
    this.worker.on('error', (err) => opts.logger.warn({ err: { message: err.message } }, 'delivery worker error'));
    this.worker.on('failed', (job, err) => {
      // finishedOn is set only when BullMQ will not try the task again.
      if (job && !job.finishedOn) opts.logger.warn({ task: job.id, attempt: job.attemptsMade, err: { message: err.message } }, 'delivery step failed; trying the task again');
      else opts.logger.error({ task: job?.id, err: { message: err.message } }, 'delivery failed for good');
    });
  }

  async start(): Promise<void> {
    const { config, connection, logger, service } = this.opts;
    const channel = queueKeys(config).progressChannel;
    const subscriber = duplicateRedis(connection, 'progress-subscriber');
    subscriber.on('error', (err: Error) => logger.warn({ channel, err: { message: err.message } }, 'progress subscription connection error'));
    subscriber.on('message', (ch: string, raw: string) => {
      if (ch !== channel) return;
      let notice: ProgressNotice;
      try {
        notice = progressNoticeSchema.parse(JSON.parse(raw));
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'ignoring a malformed progress message');
        return;
      }
      if (service.platforms().includes(notice.payload.origin.platform)) void service.progress(notice);
    });
    await subscriber.subscribe(channel);
    this.subscriber = subscriber;
    void this.worker.run().catch((err: Error) => logger.error({ err }, 'delivery worker stopped'));
    await this.worker.waitUntilReady();
  }

  /** Stop taking tasks; the posts in flight finish first. */
  async close(): Promise<void> {
    await this.worker.close();
    if (this.subscriber) await closeRedis(this.subscriber);
  }

  private async run(job: Job): Promise<void> {
    const parsed = deliveryTaskSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed delivery task ${job.id}: ${parsed.error.issues[0]?.message}`);
    try {
      await this.opts.service.deliver(parsed.data);
    } catch (err) {
      if (err instanceof PermanentDeliveryError || err instanceof UnmarkedPostError) throw new UnrecoverableError(err.message);
      throw err;
    }
  }
}
