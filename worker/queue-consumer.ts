/**
 * The BullMQ side of the worker: takes jobs from the shared queue and hands them to the
 * JobRunner as ActiveJobs, adding what only the queue knows about:
 *
 * - cancel: a pub/sub message (fast) or the flag key (checked when a job starts) aborts the
 *   job's signal; the pipeline stops at its next step;
 * - timeout: the per-attempt budget recorded in the job (JOB_TIMEOUT_S) aborts the signal;
 * - retries: cancelled, timed-out, invalid and source-expired jobs fail with BullMQ's
 *   UnrecoverableError (no retry); anything else is retried up to the job's attempts, and
 *   the user hears about a failure only once it is final;
 * - crashes: a job that stalled (killed its worker) more than `maxStalledCount` times is
 *   failed by BullMQ without running; the 'failed' event posts its notice here;
 * - prefetch: with batching on, up to slots x maxBatch jobs are held active at once so
 *   compatible ones can share a pipeline call.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';
import { InvalidJobError, originSchema, parseJobPayload, type JobPayload, type JobResult } from '../src/jobs.ts';
import type { Metrics } from '../src/metrics.ts';
import { jobTimeoutMs } from '../src/queue/bullmq-queue.ts';
import { clearCancel, isCancelRequested, subscribeCancels, type CancelSubscription } from '../src/queue/cancel-signal.ts';
import type { ActiveJob } from '../src/queue/types.ts';
import { isPermanentJobError, JobCancelledError, JobTimeoutError, STALLED_LIMIT_REASONS } from './errors.ts';
import type { JobRunner } from './job-runner.ts';

export interface QueueConsumerOptions {
  config: Pick<Config, 'QUEUE_NAME' | 'QUEUE_PREFIX' | 'JOB_TIMEOUT_S'>;
  /** A worker-role connection (maxRetriesPerRequest null); BullMQ duplicates it for blocking reads. */
  connection: Redis;
  runner: JobRunner;
  logger: Logger;
  metrics: Metrics;
  /** Jobs held active at once. */
  concurrency: number;
  /** How long a job's lock lives without renewal: how soon a dead worker's job is picked up again. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How many crashes a job may cause before it is failed (BullMQ maxStalledCount). */
  maxStalledCount?: number;
  workerName?: string;
  /** Called once per job this worker finished (completed or failed), for the recycle policy. */
  onSettled?(): void;
}

export class QueueConsumer {
  readonly worker: Worker;
  private readonly controllers = new Map<string, AbortController>();
  private cancelSub: CancelSubscription | null = null;
  private readonly notices = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: QueueConsumerOptions) {
    this.worker = new Worker(opts.config.QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: opts.connection,
      prefix: opts.config.QUEUE_PREFIX,
      concurrency: opts.concurrency,
      autorun: false,
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      maxStalledCount: opts.maxStalledCount ?? 1,
      name: opts.workerName,
    });
    this.worker.on('error', (err) => opts.logger.warn({ err: { message: err.message } }, 'queue worker error'));
    this.worker.on('failed', (job, err) => this.onFailed(job, err));
  }

  async start(): Promise<void> {
    this.cancelSub = await subscribeCancels(this.opts.connection, this.opts.config, (jobId) => this.cancelLocal(jobId), this.opts.logger);
    void this.worker.run().catch((err: Error) => this.opts.logger.error({ err }, 'queue worker stopped'));
    await this.worker.waitUntilReady();
  }

  /** Jobs this process holds right now. */
  get activeJobIds(): string[] {
    return [...this.controllers.keys()];
  }

  private cancelLocal(jobId: string): void {
    const controller = this.controllers.get(jobId);
    if (controller && !controller.signal.aborted) {
      this.opts.logger.info({ jobId }, 'cancel requested; stopping at the next step');
      controller.abort(new JobCancelledError());
    }
  }

  private async process(job: Job, token: string | undefined): Promise<JobResult> {
    const { logger, metrics, runner, config } = this.opts;
    if (job.timestamp) metrics.queueWaitSeconds.observe(Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp) / 1000);
    let payload: JobPayload;
    try {
      payload = parseJobPayload(job.data);
    } catch (err) {
      if (err instanceof InvalidJobError) {
        logger.warn({ jobId: job.id, detail: err.detail }, 'invalid job payload; failing without retry');
        await this.noticeForInvalid(job, err);
        this.opts.onSettled?.();
        throw new UnrecoverableError(err.message);
      }
      throw err;
    }

    const jobId = job.id!;
    const controller = new AbortController();
    this.controllers.set(jobId, controller);
    const timeoutMs = jobTimeoutMs(job.data, config);
    const timer = setTimeout(() => controller.abort(new JobTimeoutError(Math.round(timeoutMs / 1000))), timeoutMs);
    try {
      // A cancel published while no worker was subscribed is only in the flag.
      if (await isCancelRequested(this.opts.connection, config, jobId)) controller.abort(new JobCancelledError());
      const active: ActiveJob = {
        id: jobId,
        payload,
        attemptsMade: job.attemptsMade,
        signal: controller.signal,
        updateProgress: (p) => job.updateProgress({ ...p }),
      };
      if (controller.signal.aborted) throw controller.signal.reason;
      return await runner.run(active);
    } catch (err) {
      const final = isPermanentJobError(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      metrics.jobsFailed.inc({ kind: payload.kind, reason: (err as Error)?.name ?? 'Error' });
      logger.warn({ jobId, attempt: job.attemptsMade + 1, final, err }, 'job attempt failed');
      if (final) {
        // Posted while the job still holds its lock: a crash here re-runs the job, and the ledger keeps the notice single.
        await runner.notifyFailure(jobId, payload, err).catch((e: unknown) => logger.error({ jobId, err: e }, 'could not deliver the failure notice'));
      }
      if (err instanceof JobCancelledError) await clearCancel(this.opts.connection, config, jobId).catch(() => undefined);
      if (isPermanentJobError(err)) throw new UnrecoverableError((err as Error).message);
      throw err;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(jobId);
      void token;
      // Before BullMQ marks the job finished: a recycle decided here closes the worker before it fetches another job.
      this.opts.onSettled?.();
    }
  }

  private async noticeForInvalid(job: Job, err: InvalidJobError): Promise<void> {
    // An invalid payload may still carry a usable origin; without one nobody can be told.
    const origin = originSchema.safeParse((job.data as { origin?: unknown } | null)?.origin);
    if (!origin.success) return;
    const stub = { origin: origin.data } as JobPayload;
    await this.opts.runner.notifyFailure(job.id!, stub, err).catch((e: unknown) => this.opts.logger.error({ jobId: job.id, err: e }, 'could not deliver the failure notice'));
  }

  private onFailed(job: Job | undefined, err: Error): void {
    if (!job || !STALLED_LIMIT_REASONS.includes(err.message)) return;
    this.opts.onSettled?.();
    // Failed by BullMQ without running (it crashed workers too often): the processor never saw it.
    this.opts.logger.error({ jobId: job.id }, 'job failed after crashing workers; not retried');
    this.opts.metrics.jobsFailed.inc({ kind: String((job.data as { kind?: unknown })?.kind ?? 'unknown'), reason: 'stalled' });
    let payload: JobPayload;
    try {
      payload = parseJobPayload(job.data);
    } catch {
      return;
    }
    const notice = this.opts.runner
      .notifyFailure(job.id!, payload, err)
      .catch((e: unknown) => this.opts.logger.error({ jobId: job.id, err: e }, 'could not deliver the failure notice'))
      .finally(() => this.notices.delete(notice));
    this.notices.add(notice);
  }

  /** Stop taking jobs, let the ones held finish and deliver, then disconnect. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker.close();
      await Promise.allSettled([...this.notices]);
      await this.cancelSub?.close();
    })();
    return this.closing;
  }
}
