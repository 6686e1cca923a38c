/**
 * One-process mode without Redis: the worker's delivery tasks go straight to this process's
 * delivery service, in the background (the job ends when its result is stored, as in a
 * fleet). close() waits for the posts in flight.
 */
import type { DeliveryService } from './delivery-service.ts';
import type { DeliveryOutbox, DeliveryTask, ProgressNotice } from './delivery-tasks.ts';
import type { Logger } from './logger.ts';

export class LocalDeliveryOutbox implements DeliveryOutbox {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly service: DeliveryService, private readonly logger: Logger) {}

  async enqueue(task: DeliveryTask): Promise<void> {
    const p = this.service
      .deliver(task)
      .catch((err: unknown) => this.logger.error({ jobId: task.jobId, outcome: task.outcome, err }, 'delivery failed for good'))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  async progress(notice: ProgressNotice): Promise<void> {
    await this.service.progress(notice);
  }

  /** Resolves once every delivery handed over so far has ended. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }
}
