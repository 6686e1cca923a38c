/**
 * The web playground's Deliverer. A browser session is both the "user" and the "channel" of a
 * web job (origin.userId = origin.channelId = the session's user id, a keyed hash of the session
 * id: identity.ts), so every event is addressed to that user and pushed to its open tabs through
 * the event hub. Images are not pushed: the
 * result names its artifacts, and the page loads them by URL from the process serving it.
 * The "message" that shows a result is the job itself, so its id is the job id.
 */
import type { DeliveredMessage, Deliverer, DeliveryContext, DeliveryErrorClass, FailureContext, FailureNotice, ProgressUpdate, ResultFiles } from '../../src/delivery.ts';
import { PermanentDeliveryError } from '../../src/delivery.ts';
import { classifyCommonError } from '../../src/delivery-retry.ts';
import type { JobResult, Origin } from '../../src/jobs.ts';
import type { WebEventHub } from './events.ts';

/** Latent previews are tiny; anything bigger is not worth pushing to every tab on each step. */
const MAX_PREVIEW_BYTES = 256 * 1024;

export class WebDeliverer implements Deliverer {
  readonly platform = 'web' as const;

  constructor(private readonly hub: WebEventHub) {}

  /** Publishing goes to Redis or this process's hub: anything but our own refusals is worth another try. */
  classifyError(err: unknown): DeliveryErrorClass {
    return classifyCommonError(err) ?? { verdict: 'retry' };
  }

  async progress(ctx: DeliveryContext, update: ProgressUpdate): Promise<void> {
    const preview = update.preview && update.preview.length <= MAX_PREVIEW_BYTES ? `data:image/png;base64,${update.preview.toString('base64')}` : undefined;
    await this.hub.publish({
      type: 'progress',
      session: this.session(ctx.payload.origin),
      jobId: ctx.jobId,
      step: update.step,
      total: update.total,
      etaMs: update.etaMs,
      ...(preview ? { preview } : {}),
    });
  }

  async result(ctx: DeliveryContext, result: JobResult, _files: ResultFiles): Promise<DeliveredMessage> {
    await this.hub.publish({ type: 'result', session: this.session(ctx.payload.origin), jobId: ctx.jobId, result });
    return { messageId: ctx.jobId, channelId: ctx.payload.origin.channelId };
  }

  async failure(ctx: FailureContext, notice: FailureNotice): Promise<void> {
    await this.hub.publish({ type: 'failure', session: this.session(ctx.origin), jobId: ctx.jobId, message: notice.message, retry: notice.retry, cancelled: !!notice.cancelled });
  }

  private session(origin: Origin): string {
    if (origin.platform !== 'web') throw new PermanentDeliveryError(`the web deliverer got a ${origin.platform} job`);
    return origin.userId;
  }
}
