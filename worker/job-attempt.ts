/**
 * One attempt at a job, whichever queue handed it over (a BullMQ Job, or a LocalJob from the
 * in-process queue, which has the same fields). This is where the queue's rules meet the
 * job runner, so both backends share them:
 *
 * - the payload is validated again on the way out, against the schema and against the same
 *   limits the commands apply (src/job-limits.ts: MAX_STEPS, MAX_N, ALLOWED_SAMPLERS, the
 *   model's size rule), so a job written by another producer cannot ask for more; job data the
 *   queue could not even decode (UndecodableJobData) is invalid too. An invalid job fails
 *   without retry, and the user is told when the payload still names where they are;
 * - cancel: a request heard while running (cancel(jobId)) or already flagged when the attempt
 *   starts aborts the job's signal; the pipeline stops at its next step;
 * - timeout: this worker's JOB_TIMEOUT_S aborts the signal (never a figure from the job data,
 *   which anyone who can write to the queue controls);
 * - retries: cancelled, timed-out, invalid and source-expired jobs fail with BullMQ's
 *   UnrecoverableError (no retry); anything else is thrown as is and retried up to the job's
 *   attempts; the user hears about a failure only once it is final.
 */
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';
import { InvalidJobError, originSchema, parseJobPayload, type JobPayload, type JobResult, type Origin } from '../src/jobs.ts';
import { jobLimitsFromConfig, jobLimitViolation, type JobLimits } from '../src/job-limits.ts';
import type { Metrics } from '../src/metrics.ts';
import type { ActiveJob, JobProgress } from '../src/queue/types.ts';
import { isPermanentJobError, JobCancelledError, JobTimeoutError } from './errors.ts';
import type { JobRunner } from './job-runner.ts';

/** The fields of a queue's job an attempt reads (BullMQ's Job and LocalJob both have them). */
export interface AttemptJob {
  readonly id?: string;
  readonly data: unknown;
  readonly attemptsMade: number;
  readonly opts: { readonly attempts?: number };
  readonly timestamp: number;
  readonly processedOn?: number;
  updateProgress(progress: JobProgress): Promise<unknown>;
}

/** Where a queue keeps cancel requests for running jobs (the flag key in Redis; a set in memory). */
export interface CancelFlags {
  isCancelRequested(jobId: string): Promise<boolean> | boolean;
  clearCancel(jobId: string): Promise<void> | void;
}

/**
 * What a queue hands over instead of the job's data when that data could not be decoded (not
 * JSON): the job then fails as invalid instead of being left active by the queue.
 */
export class UndecodableJobData {
  constructor(readonly detail: string) {}
}

/** The configuration an attempt reads: its time budget and the job limits. */
export type AttemptConfig = Pick<Config, 'JOB_TIMEOUT_S' | 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS'>;

const MALFORMED = 'This request is malformed and cannot be run. Please send it again.';

export interface JobAttemptsOptions {
  config: AttemptConfig;
  runner: JobRunner;
  logger: Logger;
  metrics: Metrics;
  cancels: CancelFlags;
  /**
   * Called once per attempt as it ends, before the queue records the outcome: a recycle
   * decided here closes the consumer before it fetches another job.
   */
  onAttemptEnd?(): void;
}

export class JobAttempts {
  private readonly controllers = new Map<string, AbortController>();
  private idleWaiters: Array<() => void> = [];
  private readonly limits: JobLimits;

  constructor(private readonly opts: JobAttemptsOptions) {
    this.limits = jobLimitsFromConfig(opts.config);
  }

  /** Jobs this process is running right now. */
  get activeJobIds(): string[] {
    return [...this.controllers.keys()];
  }

  /** Resolves once no attempt is running here (at once when none is). */
  whenIdle(): Promise<void> {
    if (this.controllers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A cancel request for a job: stops it at its next step if it runs here. */
  cancel(jobId: string): void {
    const controller = this.controllers.get(jobId);
    if (controller && !controller.signal.aborted) {
      this.opts.logger.info({ jobId }, 'cancel requested; stopping at the next step');
      controller.abort(new JobCancelledError());
    }
  }

  async process(job: AttemptJob): Promise<JobResult> {
    const { logger, metrics, runner, config, cancels } = this.opts;
    if (job.timestamp) metrics.queueWaitSeconds.observe(Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp) / 1000);
    const jobId = job.id!;
    let payload: JobPayload | undefined;
    try {
      payload = this.decode(job.data);
      this.checkLimits(payload);
    } catch (err) {
      if (err instanceof InvalidJobError) {
        logger.warn({ jobId, detail: err.detail }, 'invalid job payload; failing without retry');
        if (payload) await this.notify(jobId, payload, err);
        else await this.noticeForInvalid(jobId, job.data, err);
        this.opts.onAttemptEnd?.();
        throw new UnrecoverableError(err.message);
      }
      throw err;
    }

    const controller = new AbortController();
    this.controllers.set(jobId, controller);
    const timeoutMs = config.JOB_TIMEOUT_S * 1000;
    const timer = setTimeout(() => controller.abort(new JobTimeoutError(Math.round(timeoutMs / 1000))), timeoutMs);
    try {
      // A cancel requested while nobody was listening is only in the flag. Checked beside the
      // job's start rather than before it (one round trip less): the job stops at its first step.
      void Promise.resolve(cancels.isCancelRequested(jobId)).then(
        (requested) => requested && !controller.signal.aborted && controller.abort(new JobCancelledError()),
        (err: unknown) => logger.warn({ jobId, err }, 'could not read the cancel flag'),
      );
      const active: ActiveJob = {
        id: jobId,
        payload,
        attemptsMade: job.attemptsMade,
        signal: controller.signal,
        updateProgress: async (p) => void (await job.updateProgress({ ...p })),
      };
      if (controller.signal.aborted) throw controller.signal.reason;
      return await runner.run(active);
    } catch (err) {
      const final = isPermanentJobError(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      metrics.jobsFailed.inc({ kind: payload.kind, reason: (err as Error)?.name ?? 'Error' });
      logger.warn({ jobId, attempt: job.attemptsMade + 1, final, err }, 'job attempt failed');
      // Posted while the job is still held: a crash here re-runs the job, and the ledger keeps the notice single.
      if (final) await this.notify(jobId, payload, err);
      if (err instanceof JobCancelledError) await Promise.resolve(cancels.clearCancel(jobId)).catch(() => undefined);
      if (isPermanentJobError(err)) throw new UnrecoverableError((err as Error).message);
      throw err;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(jobId);
      if (this.controllers.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      this.opts.onAttemptEnd?.();
    }
  }

  /** The job's payload, or an InvalidJobError for undecodable data or a bad shape or version. */
  private decode(data: unknown): JobPayload {
    if (data instanceof UndecodableJobData) throw new InvalidJobError(MALFORMED, data.detail);
    return parseJobPayload(data);
  }

  /** An InvalidJobError for an unknown model or a request past the limits the commands apply. */
  private checkLimits(payload: JobPayload): void {
    const model = this.opts.runner.modelInfo(payload.params.model);
    const violation = jobLimitViolation(payload, this.limits, model);
    if (violation) throw new InvalidJobError(`${violation.message} Run /imagine again within the limits.`, violation.detail);
  }

  private async notify(jobId: string, payload: JobPayload, err: unknown): Promise<void> {
    await this.post(jobId, payload.origin, payload, err);
  }

  private async noticeForInvalid(jobId: string, data: unknown, err: InvalidJobError): Promise<void> {
    // An invalid payload may still carry a usable origin; without one nobody can be told. Its
    // parameters are not trusted, so the notice goes out without them.
    const origin = originSchema.safeParse((data as { origin?: unknown } | null)?.origin);
    if (!origin.success) return;
    await this.post(jobId, origin.data, null, err);
  }

  private async post(jobId: string, origin: Origin, payload: JobPayload | null, err: unknown): Promise<void> {
    await this.opts.runner.notifyFailure(jobId, origin, payload, err).catch((e: unknown) => this.opts.logger.error({ jobId, err: e }, 'could not deliver the failure notice'));
  }
}
