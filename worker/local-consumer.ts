/**
 * The in-process side of the worker for `npm start` without Redis: takes jobs from the
 * LocalJobQueue and runs each attempt through the same JobAttempts (cancel, timeout, retry and
 * failure-notice rules) and the same JobRunner (generation, artifacts, results, delivery
 * ledger) as the BullMQ consumer. Only where jobs come from differs. Like the BullMQ consumer,
 * it takes one more job while the last one is being stored (FinishingSlots), never beyond
 * pipeline capacity plus the jobs being stored.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../src/metrics.ts';
import type { InProcessJobs, LocalWorker } from '../src/queue/types.ts';
import { FinishingSlots } from './finishing-slots.ts';
import { JobAttempts, type AttemptConfig } from './job-attempt.ts';
import type { JobRunner } from './job-runner.ts';

export interface LocalConsumerOptions {
  config: AttemptConfig;
  queue: InProcessJobs;
  runner: JobRunner;
  logger: Logger;
  metrics: Metrics;
  /** Jobs held at once (slots × batch, as for BullMQ, so compatible jobs can share a pipeline call). */
  concurrency: number;
  /** Called after each attempt settles (completed or failed), for the recycle policy. */
  onSettled?(): void;
}

export class LocalQueueConsumer {
  private readonly attempts: JobAttempts;
  private worker: LocalWorker | null = null;
  private unsubscribe: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  private readonly settled = () => this.opts.onSettled?.();
  private readonly slots: FinishingSlots;

  constructor(private readonly opts: LocalConsumerOptions) {
    const queue = opts.queue;
    this.attempts = new JobAttempts({
      config: opts.config,
      runner: opts.runner,
      logger: opts.logger,
      metrics: opts.metrics,
      cancels: { isCancelRequested: (id) => queue.isCancelRequested(id), clearCancel: (id) => queue.clearCancel(id) },
    });
    this.slots = new FinishingSlots(opts.concurrency, (n) => {
      if (this.worker) this.worker.concurrency = n;
    });
  }

  async start(): Promise<void> {
    const { queue } = this.opts;
    this.unsubscribe = queue.onCancelRequested((jobId) => this.attempts.cancel(jobId));
    queue.on('completed', this.settled);
    queue.on('failed', this.settled);
    this.worker = queue.process((job) => this.attempts.process(job), { concurrency: this.opts.concurrency });
  }

  /** Jobs this process holds right now. */
  get activeJobIds(): string[] {
    return this.attempts.activeJobIds;
  }

  /** A job left the pipeline and is being stored: hold one more meanwhile (FinishingSlots). */
  finishing(): () => void {
    return this.slots.begin();
  }

  /** Stop taking jobs, let the ones held finish and deliver. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker?.close();
      this.unsubscribe?.();
      this.opts.queue.off('completed', this.settled);
      this.opts.queue.off('failed', this.settled);
    })();
    return this.closing;
  }
}
