/**
 * Runs one job from payload to delivered message, independent of the queue that handed it
 * over (BullMQ in a fleet, the in-process runner in local mode):
 *
 *   already delivered? -> done (a re-run never posts twice)
 *   result stored by an earlier attempt? -> reuse it (a worker killed after generating does not redo the work)
 *   otherwise plan -> (batched) pipeline call with per-job progress -> artifacts + stored result
 *   -> deliver once (ledger) with bounded retries -> record the message id on the result
 *
 * Failures are thrown; the caller decides whether this attempt was the last one and then
 * calls notifyFailure, which posts the user-facing notice once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ArtifactStore } from '../src/artifacts.ts';
import type { Config } from '../src/config.ts';
import type { DeliveryContext, FailureContext, ResultFiles } from '../src/delivery.ts';
import { JOB_VERSION, type ArtifactRef, type JobPayload, type JobResult, type Origin } from '../src/jobs.ts';
import { getMany, type KeyValueStore, type KvWrite } from '../src/kv.ts';
import type { Metrics } from '../src/metrics.ts';
import type { ModelInfo } from '../src/models.ts';
import { decodeSecret, loadSecret, secretKey } from '../src/platform-secrets.ts';
import type { ActiveJob } from '../src/queue/types.ts';
import { resultTtlSeconds, type ResultStore } from '../src/results.ts';
import { Batcher, type BatchEntry } from './batcher.ts';
import type { DelivererRegistry } from '../src/deliverer-registry.ts';
import { DEFAULT_RETRY_POLICY, withDeliveryRetry, type RetryPolicy } from '../src/delivery-retry.ts';
import { DeliveryLedger } from '../src/delivery-ledger.ts';
import type { GenerateOptions, GenerateResult, Pipeline, ProgressInfo } from './diffusion/index.ts';
import { failureNotice } from './errors.ts';
import { planJob, type JobPlan } from './job-plan.ts';
import type { ModelResidency } from './model-residency.ts';
import { ProgressReporter } from './progress-reporter.ts';

/** The slice of a Pipeline the runner uses (tests and the queue bench substitute their own). */
export type WorkerPipeline = Pick<Pipeline, 'generateEach' | 'upscale' | 'providers'> & { dispose?(): Promise<void> };

export interface JobRunnerDeps {
  config: Pick<Config, 'PROGRESS_INTERVAL_MS' | 'PROGRESS_PREVIEW' | 'RESULT_TTL_DAYS' | 'QUEUE_PREFIX' | 'QUEUE_NAME'>;
  residency: ModelResidency<WorkerPipeline>;
  artifacts: ArtifactStore;
  results: ResultStore;
  /** Where platform secrets and delivery records live (Redis under the queue prefix in a fleet). */
  kv: KeyValueStore;
  deliverers: DelivererRegistry;
  metrics: Metrics;
  logger: Logger;
  /** Pipeline calls at once (WORKER_CONCURRENCY). */
  slots: number;
  /** Images per pipeline call; 1 turns batching off. */
  maxBatch: number;
  gatherMs?: number;
  retryPolicy?: RetryPolicy;
  /** Identifies this worker in delivery records and logs. */
  workerId?: string;
}

interface Work {
  plan: JobPlan;
  pipeline: WorkerPipeline;
  onProgress: (p: ProgressInfo) => void;
}

type LogLevel = 'debug' | 'info' | 'warn';
type JobLog = Record<LogLevel, (obj: object, msg: string) => void>;

/**
 * A job's child logger, made only when a line is actually written at an enabled level: making a
 * child serializes and redacts its bindings, which a job that logs nothing need not pay for.
 */
function lazyChild(logger: Logger, bindings: Record<string, unknown>): JobLog {
  let child: Logger | undefined;
  const at = (level: LogLevel) => (obj: object, msg: string) => {
    if (logger.isLevelEnabled(level)) (child ??= logger.child(bindings))[level](obj, msg);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn') };
}

/** Short, stable, URL- and custom_id-safe: a re-run of the same job writes the same result. */
export function resultIdForJob(jobId: string, queue: string): string {
  return 'r' + createHash('sha256').update(`${queue}\0${jobId}`).digest('base64url').slice(0, 15);
}

export class JobRunner {
  readonly batcher: Batcher<Work, GenerateResult>;
  readonly ledger: DeliveryLedger;
  private readonly workerId: string;
  private readonly retryPolicy: RetryPolicy;
  private readonly ttlS: number;

  constructor(private readonly deps: JobRunnerDeps) {
    this.workerId = deps.workerId ?? `w-${randomBytes(4).toString('hex')}`;
    this.retryPolicy = deps.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.ttlS = resultTtlSeconds(deps.config);
    this.ledger = new DeliveryLedger(deps.kv, {
      ttlS: this.ttlS,
      onTakeover: (jobId, previous) =>
        deps.logger.warn({ jobId, previous }, 'an earlier attempt died while delivering this job; delivering again with the same idempotency key'),
    });
    this.batcher = new Batcher<Work, GenerateResult>({
      slots: deps.slots,
      maxBatch: deps.maxBatch,
      gatherMs: deps.gatherMs ?? (deps.maxBatch > 1 ? 10 : 0),
      run: (entries) => this.runBatch(entries),
      onBatch: (jobs) => deps.metrics.batchSize.observe(jobs),
    });
  }

  /** The JobHandler contract (src/queue/types.ts). */
  run = async (job: ActiveJob): Promise<JobResult> => {
    const started = performance.now();
    const { payload } = job;
    const log = lazyChild(this.deps.logger, { jobId: job.id, kind: payload.kind, platform: payload.origin.platform });
    const resultId = resultIdForJob(job.id, `${this.deps.config.QUEUE_PREFIX}:${this.deps.config.QUEUE_NAME}`);
    const { results, kv } = this.deps;

    // One round trip for everything a job reads before it runs: the two questions a re-run asks
    // (delivered? result stored?) and the platform secret the post needs.
    const [doneRaw, resultRaw, secretRaw] = await getMany(kv, [this.ledger.keyOf(job.id), results.keyOf(resultId), secretKey(job.id)]);
    const done = this.ledger.decodeDelivered(doneRaw);
    const previous = results.decode(resultId, resultRaw);
    const reusable = previous ? await this.withFiles(previous) : null;
    if (done && reusable && done.resultId === resultId) {
      log.info({ messageId: done.messageId }, 'job was already delivered; completing without posting again');
      return { ...reusable.result, messageId: done.messageId ?? reusable.result.messageId };
    }
    if (reusable) log.info({ resultId }, 'reusing the result an earlier attempt generated');
    const deliverer = this.deps.deliverers.get(payload.origin.platform);
    const ctx: DeliveryContext = { jobId: job.id, payload, secret: decodeSecret(secretRaw) };
    const { result, files, stored, landed } = reusable
      ? { ...reusable, stored: { result: reusable.result, writes: [] }, landed: Promise.resolve() }
      : await this.generate(job, resultId, log);
    const owner = `${this.workerId}:${job.attemptsMade}:${randomBytes(3).toString('hex')}`;
    // The files (and the queue's progress field) are still being written while the claim goes out
    // with the new result in the same round trip; the post waits for them, and so does the job.
    const [delivery, written] = await Promise.allSettled([
      this.ledger.once(
        job.id,
        owner,
        'result',
        async () => {
          await landed;
          const message = await withDeliveryRetry('post result', () => deliverer.result(ctx, result, files), this.retryPolicy, {
            onRetry: ({ attempt, waitMs, status }) => log.warn({ attempt, waitMs, status }, 'result delivery failed; retrying'),
          });
          return { messageId: message.messageId, resultId };
        },
        {
          claim: stored.writes,
          // The message id lets reactions find the result later; written with the ledger's mark.
          mark: (rec) => (rec.messageId ? results.messageIdWrites(stored.result, rec.messageId, this.ttlS) : []),
        },
      ),
      landed,
    ]);
    if (delivery.status === 'rejected') throw delivery.reason;
    if (written.status === 'rejected') throw written.reason;
    const { posted, record } = delivery.value;
    this.deps.metrics.deliveries.inc({ platform: payload.origin.platform, outcome: posted ? 'posted' : 'already-delivered' });
    const messageId = record.messageId;
    this.deps.metrics.jobsCompleted.inc({ kind: payload.kind });
    this.deps.metrics.jobSeconds.observe({ kind: payload.kind }, (performance.now() - started) / 1000);
    log.info({ resultId, messageId, posted, ms: Math.round(performance.now() - started) }, 'job delivered');
    return { ...result, messageId };
  };

  /** The catalog entry of a job's model; an unknown one is an InvalidJobError (the job can never run here). */
  modelInfo(name: string): ModelInfo {
    return this.deps.residency.info(name);
  }

  /** Tell the user a job ended without a result (once, even if called again for the same job). */
  /**
   * Posts the failure notice once. `payload` is null for a job whose data failed the schema but
   * still named where it came from (`origin`): the notice then cannot show what was asked.
   */
  async notifyFailure(jobId: string, origin: Origin, payload: JobPayload | null, err: unknown): Promise<void> {
    const notice = failureNotice(err);
    const deliverer = this.deps.deliverers.get(origin.platform);
    const ctx: FailureContext = { jobId, origin, payload, secret: await loadSecret(this.deps.kv, jobId) };
    const { posted } = await this.ledger.once(jobId, `${this.workerId}:failure`, 'failure', async () => {
      await withDeliveryRetry('post failure', () => deliverer.failure(ctx, notice), this.retryPolicy);
      return {};
    });
    this.deps.metrics.deliveries.inc({ platform: origin.platform, outcome: posted ? 'failure-posted' : 'already-delivered' });
  }

  private async context(jobId: string, payload: JobPayload): Promise<DeliveryContext> {
    return { jobId, payload, secret: await loadSecret(this.deps.kv, jobId) };
  }

  /** A stored result with its files, or null when any file is missing (then it is generated again). */
  private async withFiles(result: JobResult): Promise<{ result: JobResult; files: ResultFiles } | null> {
    const images = await Promise.all(result.images.map((i) => this.deps.artifacts.get(i.artifact.key)));
    const grid = result.grid ? await this.deps.artifacts.get(result.grid.key) : images[0];
    if (images.some((b) => !b) || !grid) return null;
    return { result, files: { grid, images: images as Buffer[] } };
  }

  /**
   * Runs the pipeline and starts writing the files. Returns the result, the writes that store
   * it (validated, for the ledger's claim), and `landed`, which settles once the files are in
   * the artifact store and the queue's progress field holds the last step.
   */
  private async generate(
    job: ActiveJob,
    resultId: string,
    log: JobLog,
  ): Promise<{ result: JobResult; files: ResultFiles; stored: { result: JobResult; writes: KvWrite[] }; landed: Promise<unknown> }> {
    const { payload } = job;
    this.deps.residency.info(payload.params.model); // unknown model: an InvalidJobError before any work
    const plan = await planJob(payload, this.deps.results, this.deps.artifacts);
    const pipeline = await this.deps.residency.get(plan.model);
    const reporter = new ProgressReporter({
      intervalMs: this.deps.config.PROGRESS_INTERVAL_MS,
      preview: this.deps.config.PROGRESS_PREVIEW === 'on',
      updateJobProgress: (p) => job.updateProgress(p),
      deliver: async (update) => {
        const ctx = await this.context(job.id, payload);
        await this.deps.deliverers.get(payload.origin.platform).progress(ctx, update);
      },
      onError: (err, channel) => log.debug({ err, channel }, 'progress update failed'),
    });
    const onProgress = (p: ProgressInfo) => {
      reporter.step({ step: p.step, total: p.total, preview: p.preview });
      if (p.stepMs > 0) this.deps.metrics.stepSeconds.observe({ model: plan.model }, p.stepMs / 1000);
    };

    let gen: GenerateResult;
    try {
      const key = plan.kind === 'generate' ? plan.batchKey : null;
      gen = await this.batcher.submit({ plan, pipeline, onProgress }, key, plan.images, job.signal);
    } catch (err) {
      // The pipeline reports an abort as its own AbortError; the signal's reason says why (cancel or timeout).
      if (job.signal.aborted) throw job.signal.reason;
      throw err;
    } finally {
      await reporter.flushChat();
    }
    if (job.signal.aborted) throw job.signal.reason;

    const artifacts = this.deps.artifacts;
    const keys = gen.images.map((_, i) => `${resultId}/${i}.png`);
    const gridKey = gen.grid ? `${resultId}/grid.png` : undefined;
    // Refs are known before the bytes land, so the result is stored while the files are written
    // (a crash in between leaves a result whose files are missing, which a re-run does not reuse).
    // The files of one result share a directory: the store creates it once for all of them.
    const refs: ArtifactRef[] = gen.images.map((img, i) => ({ key: keys[i], bytes: img.png.length, contentType: 'image/png' }));
    const gridRef: ArtifactRef | undefined = gen.grid && gridKey ? { key: gridKey, bytes: gen.grid.length, contentType: 'image/png' } : undefined;
    const result: JobResult = {
      v: JOB_VERSION,
      resultId,
      jobId: job.id,
      kind: payload.kind,
      params: payload.params,
      origin: payload.origin,
      ...(payload.parentResultId ? { parentResultId: payload.parentResultId } : {}),
      images: gen.images.map((img, i) => ({ artifact: refs[i], seed: img.seed, width: img.width, height: img.height, ...(img.nsfw === undefined ? {} : { nsfw: img.nsfw }) })),
      ...(gridRef ? { grid: gridRef } : {}),
      timings: { ...gen.timings },
      model: payload.params.model,
      sampler: gen.sampler,
      provider: gen.provider,
      createdAt: Date.now(),
    };
    const stored = this.deps.results.writesFor(result, this.ttlS);
    const landed = Promise.all([
      ...gen.images.map((img, i) => artifacts.put(keys[i], img.png, 'image/png')),
      ...(gen.grid && gridKey ? [artifacts.put(gridKey, gen.grid, 'image/png')] : []),
      // Before the job can complete, so its progress field ends at the last step.
      reporter.flushQueue(),
    ]);
    log.debug({ resultId, ms: Math.round(gen.timings.totalMs), batch: gen.timings.batchSize }, 'generated');
    return { result, files: { grid: gen.grid ?? gen.images[0].png, images: gen.images.map((i) => i.png) }, stored, landed };
  }

  /** One pipeline call for a batch of compatible work items, each with its own progress and abort signal. */
  private async runBatch(entries: BatchEntry<Work>[]): Promise<PromiseSettledResult<GenerateResult>[]> {
    const first = entries[0].request;
    if (first.plan.kind === 'upscale') {
      const opts: GenerateOptions = { onProgress: first.onProgress, signal: entries[0].signal };
      return [await first.pipeline.upscale(first.plan.request, opts).then(
        (value) => ({ status: 'fulfilled' as const, value }),
        (reason: unknown) => ({ status: 'rejected' as const, reason }),
      )];
    }
    const requests = entries.map((e) => (e.request.plan as Extract<JobPlan, { kind: 'generate' }>).request);
    const opts = entries.map((e): GenerateOptions => ({ onProgress: e.request.onProgress, signal: e.signal }));
    return first.pipeline.generateEach(requests, opts);
  }
}
