/**
 * Runs one job from payload to stored result, independent of the queue that handed it over
 * (BullMQ in a fleet, the in-process runner in local mode):
 *
 *   result stored by an earlier attempt? -> reuse it (a worker killed after generating does not redo the work)
 *   otherwise plan -> (batched) pipeline call with per-job progress -> files + stored result
 *   -> hand a delivery task to the outbox (the bot side posts it, once, through the ledger)
 *
 * The job ends there: this process never talks to a platform and holds no platform secret.
 * Failures are thrown; the caller decides whether this attempt was the last one and then
 * calls notifyFailure, which hands over the failure notice the same way.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ArtifactStore } from '../src/artifacts.ts';
import type { Config } from '../src/config.ts';
import { progressNotice, type DeliveryOutbox } from '../src/delivery-tasks.ts';
import { InvalidJobError, JOB_VERSION, type ArtifactRef, type JobPayload, type JobResult, type Origin } from '../src/jobs.ts';
import { recordJobDuration } from '../src/job-durations.ts';
import { setMany, type KeyValueStore } from '../src/kv.ts';
import type { Metrics } from '../src/metrics.ts';
import type { ModelInfo } from '../src/models.ts';
import type { ActiveJob } from '../src/queue/types.ts';
import { resultTtlSeconds, type ResultStore } from '../src/results.ts';
import { Batcher, type BatchEntry } from './batcher.ts';
import type { GenerateOptions, GenerateResult, PendingResult, Pipeline, ProgressInfo } from './diffusion/index.ts';
import { failureNotice } from './errors.ts';
import { planJob, type JobPlan } from './job-plan.ts';
import type { ModelResidency } from './model-residency.ts';
import { ProgressReporter } from './progress-reporter.ts';

/**
 * The slice of a Pipeline the runner uses (tests and the benches substitute their own). It
 * calls decodeEach, not generateEach: a batch's slot is free as soon as the device is done, and
 * its PNGs and grid encode while the next batch denoises.
 */
export type WorkerPipeline = Pick<Pipeline, 'decodeEach' | 'upscale' | 'providers' | 'editsOnly'> & { dispose?(): Promise<void> };

export interface JobRunnerDeps {
  config: Pick<Config, 'PROGRESS_INTERVAL_MS' | 'PROGRESS_PREVIEW' | 'RESULT_TTL_DAYS' | 'QUEUE_PREFIX' | 'QUEUE_NAME'>;
  residency: ModelResidency<WorkerPipeline>;
  artifacts: ArtifactStore;
  results: ResultStore;
  /** Where results are stored (Redis under the queue prefix in a fleet). */
  kv: KeyValueStore;
  /** Where delivery tasks and progress go (the bot side takes them from there). */
  outbox: DeliveryOutbox;
  metrics: Metrics;
  logger: Logger;
  /** Pipeline calls at once (WORKER_CONCURRENCY). */
  slots: number;
  /** Images per pipeline call; 1 turns batching off. */
  maxBatch: number;
  gatherMs?: number;
  /**
   * Called when a job's pipeline call is over and only its files and record remain; returns
   * the call that ends that phase. The BullMQ consumer takes one more job meanwhile, so the
   * device starts the next job while the last one is stored.
   */
  onFinishing?(): () => void;
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
  readonly batcher: Batcher<Work, PendingResult>;
  private readonly ttlS: number;

  constructor(private readonly deps: JobRunnerDeps) {
    this.ttlS = resultTtlSeconds(deps.config);
    this.batcher = new Batcher<Work, PendingResult>({
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
    const { results } = this.deps;

    // A re-run (its worker died after storing, before or after handing the delivery over)
    // reuses the stored result and hands the same task over again; the ledger posts it once.
    const previous = await results.get(resultId);
    let result: JobResult;
    let reused = false;
    let endFinishing: (() => void) | undefined;
    try {
      if (previous && (await this.filesStored(previous))) {
        log.info({ resultId }, 'reusing the result an earlier attempt stored');
        result = previous;
        reused = true;
      } else {
        result = await this.generate(job, resultId, log, () => (endFinishing = this.deps.onFinishing?.()));
      }
      await this.deps.outbox.enqueue({ outcome: 'result', jobId: job.id, payload, resultId });
    } finally {
      endFinishing?.();
    }
    this.deps.metrics.jobsCompleted.inc({ kind: payload.kind });
    this.deps.metrics.jobSeconds.observe({ kind: payload.kind }, (performance.now() - started) / 1000);
    // What a job takes here feeds the waiting times queued jobs are shown; a reused result measured nothing new.
    if (!reused) await recordJobDuration(this.deps.kv, result.timings.totalMs ?? NaN).catch((err: Error) => log.warn({ err: { message: err.message } }, 'could not record the job duration'));
    log.info({ resultId, ms: Math.round(performance.now() - started) }, 'job stored; delivery handed over');
    return result;
  };

  /** The catalog entry of a job's model; an unknown one is an InvalidJobError (the job can never run here). */
  modelInfo(name: string): ModelInfo {
    return this.deps.residency.info(name);
  }

  /**
   * Hands the failure notice over for delivery (posted once, even if called again for the same
   * job). `payload` is null for a job whose data failed the schema but still named where it
   * came from (`origin`): the notice then cannot show what was asked.
   */
  async notifyFailure(jobId: string, origin: Origin, payload: JobPayload | null, err: unknown): Promise<void> {
    await this.deps.outbox.enqueue({ outcome: 'failure', jobId, origin, payload, notice: failureNotice(err) });
  }

  /** Whether every file of a stored result is in the artifact store (a re-run regenerates otherwise). */
  private async filesStored(result: JobResult): Promise<boolean> {
    const keys = [...result.images.map((i) => i.artifact.key), ...(result.grid ? [result.grid.key] : [])];
    const files = await Promise.all(keys.map((k) => this.deps.artifacts.get(k)));
    return files.every((b) => b !== null && b !== undefined);
  }

  /**
   * Runs the pipeline, writes the files, then the result record (after the files: a stored
   * result always has its files, so the delivery step can post it), and leaves the queue's
   * progress field at the last step.
   */
  private async generate(job: ActiveJob, resultId: string, log: JobLog, finishing: () => void): Promise<JobResult> {
    const { payload } = job;
    this.deps.residency.info(payload.params.model); // unknown model: an InvalidJobError before any work
    const plan = await planJob(payload, this.deps.results, this.deps.artifacts);
    const pipeline = await this.deps.residency.get(plan.model);
    if (pipeline.editsOnly && !(plan.kind === 'generate' && plan.request.inpaint)) {
      throw new InvalidJobError(
        `The model ${plan.model} is an inpainting model: it only edits images (Zoom Out, Pan, Vary (Region)). Pick another model for this.`,
        `${payload.kind} job on inpainting-only model ${plan.model}`,
      );
    }
    const reporter = new ProgressReporter({
      intervalMs: this.deps.config.PROGRESS_INTERVAL_MS,
      preview: this.deps.config.PROGRESS_PREVIEW === 'on',
      updateJobProgress: (p) => job.updateProgress(p),
      deliver: (update) => this.deps.outbox.progress(progressNotice(job.id, payload, update)),
      onError: (err, channel) => log.debug({ err, channel }, 'progress update failed'),
    });
    const onProgress = (p: ProgressInfo) => {
      reporter.step({ step: p.step, total: p.total, preview: p.preview });
      if (p.stepMs > 0) this.deps.metrics.stepSeconds.observe({ model: plan.model }, p.stepMs / 1000);
    };

    let pending: PendingResult;
    try {
      const key = plan.kind === 'generate' ? plan.batchKey : null;
      pending = await this.batcher.submit({ plan, pipeline, onProgress }, key, plan.images, job.signal);
    } catch (err) {
      // The pipeline reports an abort as its own AbortError; the signal's reason says why (cancel or timeout).
      if (job.signal.aborted) throw job.signal.reason;
      throw err;
    } finally {
      await reporter.flushChat();
    }
    if (job.signal.aborted) throw job.signal.reason;
    // The device is done with this job: take the next one while its files encode and are stored.
    finishing();
    const gen = await pending.result;

    const artifacts = this.deps.artifacts;
    const keys = gen.images.map((_, i) => `${resultId}/${i}.png`);
    const gridKey = gen.grid ? `${resultId}/grid.png` : undefined;
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
      ...(payload.kind === 'edit' ? { edit: payload.edit } : {}),
      images: gen.images.map((img, i) => ({ artifact: refs[i], seed: img.seed, width: img.width, height: img.height, ...(img.nsfw === undefined ? {} : { nsfw: img.nsfw }) })),
      ...(gridRef ? { grid: gridRef } : {}),
      timings: { ...gen.timings },
      model: payload.params.model,
      sampler: gen.sampler,
      provider: gen.provider,
      createdAt: Date.now(),
    };
    const stored = this.deps.results.writesFor(result, this.ttlS);
    await Promise.all([
      ...gen.images.map((img, i) => artifacts.put(keys[i], img.png, 'image/png')),
      ...(gen.grid && gridKey ? [artifacts.put(gridKey, gen.grid, 'image/png')] : []),
      // Before the job can complete, so its progress field ends at the last step.
      reporter.flushQueue(),
    ]);
    await setMany(this.deps.kv, stored.writes);
    log.debug({ resultId, ms: Math.round(gen.timings.totalMs), batch: gen.timings.batchSize }, 'generated');
    return stored.result;
  }

  /** One pipeline call for a batch of compatible work items, each with its own progress and abort signal. */
  private async runBatch(entries: BatchEntry<Work>[]): Promise<PromiseSettledResult<PendingResult>[]> {
    const first = entries[0].request;
    if (first.plan.kind === 'upscale') {
      const opts: GenerateOptions = { onProgress: first.onProgress, signal: entries[0].signal };
      return [await first.pipeline.upscale(first.plan.request, opts).then(
        (value: GenerateResult) => ({ status: 'fulfilled' as const, value: { result: Promise.resolve(value) } }),
        (reason: unknown) => ({ status: 'rejected' as const, reason }),
      )];
    }
    const requests = entries.map((e) => (e.request.plan as Extract<JobPlan, { kind: 'generate' }>).request);
    const opts = entries.map((e): GenerateOptions => ({ onProgress: e.request.onProgress, signal: e.signal }));
    return first.pipeline.decodeEach(requests, opts);
  }
}
