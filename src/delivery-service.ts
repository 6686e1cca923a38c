/**
 * The delivery step: runs one DeliveryTask (post a stored result, or a failure notice) and
 * relays progress, in the process that holds the platform connections. It is the one layer
 * that retries a platform call (withDeliveryRetry, bounded, with the deliverer's own reading
 * of its errors), and the ledger keeps each job's outcome posted once from the user's view,
 * whichever process or attempt runs the task.
 *
 * A post the retry layer gives up on is not only logged: the ledger records it as failed with
 * its reason, the deliveries metric counts it, and for a result the requester is told where
 * the platform still lets us (the job's status message or reply): the images were made, could
 * not be posted, and are kept under their result id.
 */
import { randomBytes } from 'node:crypto';
import type { ArtifactStore } from './artifacts.ts';
import type { DelivererRegistry } from './deliverer-registry.ts';
import { PermanentDeliveryError, type ResultFiles } from './delivery.ts';
import { DeliveryLedger } from './delivery-ledger.ts';
import { DEFAULT_RETRY_POLICY, DeliveryGaveUpError, withDeliveryRetry, type RetryPolicy } from './delivery-retry.ts';
import { progressUpdate, type DeliveryTask, type ProgressNotice } from './delivery-tasks.ts';
import type { JobResult } from './jobs.ts';
import { getMany, type KeyValueStore } from './kv.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { decodeSecret, loadSecret, secretKey } from './platform-secrets.ts';
import type { ResultStore } from './results.ts';

export interface DeliveryServiceDeps {
  kv: KeyValueStore;
  results: ResultStore;
  artifacts: ArtifactStore;
  deliverers: DelivererRegistry;
  metrics: Pick<Metrics, 'deliveries'>;
  logger: Logger;
  /** How long ledger records live (the result TTL). */
  ttlS: number;
  retryPolicy?: RetryPolicy;
  /** Names this process in ledger records. */
  ownerId?: string;
}

export class DeliveryService {
  readonly ledger: DeliveryLedger;
  private readonly owner: string;
  private readonly retryPolicy: RetryPolicy;
  /** Progress edits in flight per job: a result post waits for them so it is never overwritten by a late step. */
  private readonly progressInFlight = new Map<string, Promise<void>>();

  constructor(private readonly deps: DeliveryServiceDeps) {
    this.owner = deps.ownerId ?? `d-${randomBytes(4).toString('hex')}`;
    this.retryPolicy = deps.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.ledger = new DeliveryLedger(deps.kv, {
      ttlS: deps.ttlS,
      onTakeover: (jobId, previous) =>
        deps.logger.warn({ jobId, previous }, 'an earlier delivery of this job died while posting; posting again with the same idempotency key'),
    });
  }

  /** Which platforms this process can post to. */
  platforms() {
    return this.deps.deliverers.platforms();
  }

  /**
   * Runs a task; resolves with whether this call posted, or why it could not (`failed`, also
   * recorded in the ledger). Throws when the task could not be run at all (its result is gone).
   */
  async deliver(task: DeliveryTask): Promise<{ posted: boolean; messageId?: string; failed?: string }> {
    const platform = task.outcome === 'result' ? task.payload.origin.platform : task.origin.platform;
    await this.progressInFlight.get(task.jobId);
    const owner = `${this.owner}:${randomBytes(3).toString('hex')}`;
    let outcome: Awaited<ReturnType<DeliveryService['postResult']>>;
    try {
      outcome = task.outcome === 'result' ? await this.postResult(task, owner) : await this.postFailure(task, owner);
    } catch (err) {
      if (!(err instanceof DeliveryGaveUpError)) throw err;
      return this.gaveUp(task, platform, err);
    }
    const { posted, record } = outcome;
    this.deps.metrics.deliveries.inc({ platform, outcome: !posted ? 'already-delivered' : task.outcome === 'result' ? 'posted' : 'failure-posted' });
    this.deps.logger.info({ jobId: task.jobId, outcome: task.outcome, posted, messageId: record.messageId }, posted ? 'delivered' : 'already delivered; not posting again');
    return { posted, messageId: record.messageId };
  }

  /**
   * Relays a progress step to the job's message, unless its outcome is already being posted
   * (a step that arrives late must not replace the result).
   */
  progress(notice: ProgressNotice): Promise<void> {
    const previous = this.progressInFlight.get(notice.jobId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const deliverer = this.deps.deliverers.get(notice.payload.origin.platform);
      const [record, secretRaw] = await getMany(this.deps.kv, [this.ledger.keyOf(notice.jobId), secretKey(notice.jobId)]);
      if (record) return;
      await deliverer.progress({ jobId: notice.jobId, payload: notice.payload, secret: decodeSecret(secretRaw) }, progressUpdate(notice));
    });
    const settled = next.catch((err: unknown) => this.deps.logger.debug({ jobId: notice.jobId, err }, 'progress update failed'));
    this.progressInFlight.set(notice.jobId, settled);
    void settled.then(() => this.progressInFlight.get(notice.jobId) === settled && this.progressInFlight.delete(notice.jobId));
    return settled;
  }

  /** The post failed for good (already recorded by the ledger): count it and tell the requester what we can. */
  private async gaveUp(task: DeliveryTask, platform: string, err: DeliveryGaveUpError): Promise<{ posted: false; failed: string }> {
    this.deps.metrics.deliveries.inc({ platform, outcome: 'failed' });
    this.deps.logger.error({ jobId: task.jobId, outcome: task.outcome, attempts: err.attempts, reason: err.reason }, 'delivery failed for good');
    if (task.outcome !== 'result') return { posted: false, failed: err.reason };
    const deliverer = this.deps.deliverers.get(task.payload.origin.platform);
    const days = Math.max(1, Math.round(this.deps.ttlS / 86_400));
    const why = err.verdict.verdict === 'permanent' ? `the platform refused the post (${errorText(err.cause)})` : `posting kept failing (${errorText(err.cause)})`;
    const notice = { message: `Your images were made, but they could not be posted here: ${why}. They are kept for ${days} day${days === 1 ? '' : 's'} as result ${task.resultId}.`, retry: false };
    try {
      const ctx = { jobId: task.jobId, origin: task.payload.origin, payload: task.payload, secret: await loadSecret(this.deps.kv, task.jobId) };
      await withDeliveryRetry('post undeliverable notice', () => deliverer.failure(ctx, notice), this.retryPolicy, { classify: (e) => deliverer.classifyError(e) });
      await this.ledger.noteNotified(task.jobId);
      this.deps.metrics.deliveries.inc({ platform, outcome: 'failure-notice-posted' });
    } catch (noticeErr) {
      this.deps.logger.warn({ jobId: task.jobId, err: noticeErr }, 'could not tell the requester that their result could not be posted');
    }
    return { posted: false, failed: err.reason };
  }

  private async postResult(task: Extract<DeliveryTask, { outcome: 'result' }>, owner: string) {
    const { results, kv } = this.deps;
    const deliverer = this.deps.deliverers.get(task.payload.origin.platform);
    const [resultRaw, secretRaw] = await getMany(kv, [results.keyOf(task.resultId), secretKey(task.jobId)]);
    const result = results.decode(task.resultId, resultRaw);
    if (!result) throw new PermanentDeliveryError(`result ${task.resultId} of job ${task.jobId} is not stored (expired or never written)`);
    const ctx = { jobId: task.jobId, payload: task.payload, secret: decodeSecret(secretRaw) };
    return this.ledger.once(
      task.jobId,
      owner,
      'result',
      async () => {
        const files = await this.files(result);
        const message = await withDeliveryRetry('post result', () => deliverer.result(ctx, result, files), this.retryPolicy, {
          onRetry: ({ attempt, waitMs, status }) => this.deps.logger.warn({ jobId: task.jobId, attempt, waitMs, status }, 'result delivery failed; retrying'),
          classify: (err) => deliverer.classifyError(err),
        });
        return { messageId: message.messageId, resultId: result.resultId };
      },
      // The message id lets reactions find the result later; written with the ledger's mark.
      { mark: (rec) => (rec.messageId ? results.messageIdWrites(result, rec.messageId, this.deps.ttlS) : []) },
    );
  }

  private async postFailure(task: Extract<DeliveryTask, { outcome: 'failure' }>, owner: string) {
    const deliverer = this.deps.deliverers.get(task.origin.platform);
    const ctx = { jobId: task.jobId, origin: task.origin, payload: task.payload, secret: await loadSecret(this.deps.kv, task.jobId) };
    return this.ledger.once(task.jobId, owner, 'failure', async () => {
      await withDeliveryRetry('post failure', () => deliverer.failure(ctx, task.notice), this.retryPolicy, { classify: (err) => deliverer.classifyError(err) });
      return {};
    });
  }

  /** A stored result's files; a missing one is permanent (the worker stores files before enqueueing). */
  private async files(result: JobResult): Promise<ResultFiles> {
    const images = await Promise.all(result.images.map((i) => this.deps.artifacts.get(i.artifact.key)));
    const grid = result.grid ? await this.deps.artifacts.get(result.grid.key) : images[0];
    if (images.some((b) => !b) || !grid) throw new PermanentDeliveryError(`the files of result ${result.resultId} are missing from the artifact store`);
    return { grid, images: images as Buffer[] };
  }
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
