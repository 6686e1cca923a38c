/**
 * The BullMQ side of the worker: takes jobs from the shared queue and runs each attempt
 * through JobAttempts (cancel, timeout, retry and failure-notice rules shared with the
 * in-process queue) and the JobRunner. What only BullMQ brings is handled here:
 *
 * - cancel requests arrive by pub/sub (fast); the flag key covers requests made while this
 *   worker was not subscribed;
 * - crashes: a job that stalled (killed its worker) more than `maxStalledCount` times is
 *   failed by BullMQ without running; the 'failed' event posts its notice here;
 * - prefetch: with batching on, up to slots x maxBatch jobs are held active at once so
 *   compatible ones can share a pipeline call;
 * - undecodable data: see DecodingWorker;
 * - model routing: one BullMQ Worker per model queue this worker serves, sharing its capacity
 *   through a LaneGate (lane-gate.ts) that prefers the models it has loaded. A worker with one
 *   queue (one model, or no model queues) has no gate and reads that queue as BullMQ alone does.
 */
import { Worker, type Job, type JobJson } from 'bullmq';
import type { RedisClient } from '../src/redis.ts';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';
import { parseJobPayload, type JobPayload } from '../src/jobs.ts';
import type { Metrics } from '../src/metrics.ts';
import { clearCancel, isCancelRequested, subscribeCancels, type CancelSubscription } from '../src/queue/cancel-signal.ts';
import { STALLED_LIMIT_REASONS } from './errors.ts';
import { JobAttempts, UndecodableJobData, type AttemptConfig } from './job-attempt.ts';
import { FinishingSlots } from './finishing-slots.ts';
import type { JobRunner } from './job-runner.ts';
import { LaneGate, type LaneState } from './lane-gate.ts';

/** What startWorker needs of a consumer, whichever queue it reads. */
export interface Consumer {
  start(): Promise<void>;
  close(): Promise<void>;
  readonly activeJobIds: string[];
  /** A job left the pipeline and is being stored: take another meanwhile (returns the end of that phase). */
  finishing?(): () => void;
}

export interface QueueConsumerOptions {
  config: Pick<Config, 'QUEUE_NAME' | 'QUEUE_PREFIX'> & AttemptConfig;
  /** A worker-role connection (maxRetriesPerRequest null); BullMQ duplicates it for blocking reads. */
  connection: RedisClient;
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
  /** How long close() lets BullMQ finish once no job of ours runs, before cutting its blocking connection. */
  closeGraceMs?: number;
  /** The model queues to consume (default: QUEUE_NAME alone) and, with more than one, how to choose between them. */
  lanes?: {
    queues: readonly { name: string; model: string }[];
    holds(model: string): boolean;
    peek(model: string): Promise<LaneState>;
    maxWaitMs: number;
    pollMs?: number;
  };
}

/**
 * BullMQ's close waits for its blocking connection to report 'end'; after a Redis outage that
 * event can fail to come and close() never resolves (taskforcesh/bullmq#4656 is the same wait
 * reached another way). Once no job of ours runs, nothing held can be lost by cutting it.
 */
const DEFAULT_CLOSE_GRACE_MS = 10_000;
/** After the cut, how long BullMQ's own close may still take before it is left behind. */
const AFTER_CUT_MS = 2_000;

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  });
}

/**
 * BullMQ decodes a job's data (JSON.parse) while moving the job to active, before any
 * processor runs. Data that is not JSON throws there: the job is left active with no worker
 * holding it, and every stall check hands it to a worker that throws again. Decoded here
 * instead, such a job reaches the processor as UndecodableJobData and fails as invalid, once.
 */
class DecodingWorker extends Worker {
  /** Set when this worker's queue is one of several a LaneGate chooses between. */
  lane: { gate: LaneGate; model: string } | null = null;
  /** Jobs this queue took through the gate that BullMQ has not started processing yet. */
  private unstarted = 0;

  protected override async moveToActive(token: string, name?: string): Promise<Job> {
    const lane = this.lane;
    if (!lane) return super.moveToActive(token, name);
    // BullMQ's main loop fetches up to its concurrency in sequence before it starts the jobs it
    // fetched, and that concurrency is above one with batching or while a job is stored. A fetch
    // that waited in the gate here would keep this queue's own fetched job from starting; when
    // that job holds the gate's last slot, nothing ever leaves and the worker hangs. So while a
    // job of ours waits to start, take none: the empty answer sends BullMQ to start it.
    if (this.unstarted > 0 || !(await lane.gate.enter(lane.model))) {
      // Not this queue's turn: look again (the gate paused) without waiting for a new job's marker.
      (this as unknown as { drained: boolean }).drained = false;
      return undefined as unknown as Job;
    }
    let job: Job | undefined;
    try {
      job = await super.moveToActive(token, name);
    } catch (err) {
      lane.gate.leave();
      throw err;
    }
    if (job) this.unstarted++;
    else lane.gate.leave();
    return job as Job;
  }

  /**
   * A gated queue's job holds its place in the gate until BullMQ is done with it, whether the
   * processor ran or BullMQ failed the job without running it. And BullMQ would take the queue's
   * next job in the same call that finishes one (fetchNext), passing by the gate: a gated queue
   * takes each job through moveToActive instead.
   */
  override async processJob(job: Job, token: string, fetchNextCallback?: () => boolean): Promise<void | Job> {
    const lane = this.lane;
    if (!lane) return super.processJob(job, token, fetchNextCallback);
    this.unstarted = Math.max(0, this.unstarted - 1);
    try {
      return await super.processJob(job, token, () => false);
    } finally {
      lane.gate.leave();
    }
  }

  protected override createJob(json: JobJson, jobId: string): Job {
    try {
      return super.createJob(json, jobId);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const job = super.createJob({ ...json, data: 'null' }, jobId);
      job.data = new UndecodableJobData(`job data is not JSON (${err.message})`);
      return job;
    }
  }
}

export class QueueConsumer implements Consumer {
  /** The first model queue's BullMQ Worker (the only one without model routing). */
  readonly worker: Worker;
  readonly workers: Worker[];
  private readonly gate: LaneGate | null;
  private readonly attempts: JobAttempts;
  private cancelSub: CancelSubscription | null = null;
  private readonly notices = new Set<Promise<void>>();
  private closing: Promise<void> | null = null;
  private readonly slots: FinishingSlots;

  constructor(private readonly opts: QueueConsumerOptions) {
    const { connection, config } = opts;
    this.attempts = new JobAttempts({
      config,
      runner: opts.runner,
      logger: opts.logger,
      metrics: opts.metrics,
      cancels: { isCancelRequested: (id) => isCancelRequested(connection, config, id), clearCancel: (id) => clearCancel(connection, config, id) },
      onAttemptEnd: () => opts.onSettled?.(),
    });
    const queues = opts.lanes?.queues ?? [{ name: config.QUEUE_NAME, model: '' }];
    const lanes = opts.lanes;
    this.gate =
      lanes && queues.length > 1
        ? new LaneGate({
            models: queues.map((q) => q.model),
            // Jobs this worker may hold now, across its model queues: base + jobs being stored.
            capacity: () => this.slots.concurrency,
            holds: lanes.holds,
            peek: lanes.peek,
            maxWaitMs: lanes.maxWaitMs,
            pollMs: lanes.pollMs,
          })
        : null;
    const gate = this.gate;
    this.workers = queues.map((q) => {
      const worker = new DecodingWorker(q.name, (job) => this.attempts.process(job), {
        connection,
        prefix: config.QUEUE_PREFIX,
        concurrency: opts.concurrency,
        autorun: false,
        lockDuration: opts.lockDurationMs ?? 30_000,
        stalledInterval: opts.stalledIntervalMs ?? 30_000,
        maxStalledCount: opts.maxStalledCount ?? 1,
        name: opts.workerName,
      });
      if (gate) worker.lane = { gate, model: q.model };
      worker.on('error', (err) => opts.logger.warn({ queue: q.name, err: { message: err.message } }, 'queue worker error'));
      worker.on('failed', (job, err) => this.onFailed(job, err));
      return worker;
    });
    this.worker = this.workers[0];
    this.slots = new FinishingSlots(opts.concurrency, (n, raised) => {
      for (const worker of this.workers) {
        worker.concurrency = n;
        // BullMQ reads a raised concurrency only when its main loop wakes, which it does when a held
        // job settles. An empty entry wakes it now, the same way an empty fetch does
        // (bullmq 6 Worker.mainLoop; worker-flow's "never waits on storing" test guards it).
        if (raised) (worker as unknown as { mainLoopQueue?: { add(p: Promise<undefined>): void } }).mainLoopQueue?.add(Promise.resolve(undefined));
      }
      if (raised) this.gate?.wake();
    });
  }

  async start(): Promise<void> {
    this.cancelSub = await subscribeCancels(this.opts.connection, this.opts.config, (jobId) => this.attempts.cancel(jobId), this.opts.logger);
    for (const worker of this.workers) {
      void worker.run().catch((err: Error) => this.opts.logger.error({ queue: worker.name, err }, 'queue worker stopped'));
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  get activeJobIds(): string[] {
    return this.attempts.activeJobIds;
  }

  /** A job left the pipeline and is being stored: hold one more meanwhile (FinishingSlots). */
  finishing(): () => void {
    return this.slots.begin();
  }

  private onFailed(job: Job | undefined, err: Error): void {
    if (!job || !STALLED_LIMIT_REASONS.includes(err.message)) return;
    // Failed by BullMQ without running (it crashed workers too often): no attempt saw it.
    this.opts.onSettled?.();
    this.opts.logger.error({ jobId: job.id }, 'job failed after crashing workers; not retried');
    this.opts.metrics.jobsFailed.inc({ kind: String((job.data as { kind?: unknown })?.kind ?? 'unknown'), reason: 'stalled' });
    let payload: JobPayload;
    try {
      payload = parseJobPayload(job.data);
    } catch {
      return;
    }
    const notice = this.opts.runner
      .notifyFailure(job.id!, payload.origin, payload, err)
      .catch((e: unknown) => this.opts.logger.error({ jobId: job.id, err: e }, 'could not deliver the failure notice'))
      .finally(() => this.notices.delete(notice));
    this.notices.add(notice);
  }

  /** Stop taking jobs, let the ones held finish and deliver, then unsubscribe. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.gate?.close();
      const closed = Promise.all(this.workers.map((w) => w.close()));
      const timers = new AbortController();
      const graceMs = this.opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
      const stuck = this.attempts.whenIdle().then(() => delay(graceMs, timers.signal)).then(() => 'stuck' as const);
      if ((await Promise.race([closed.then(() => 'closed' as const), stuck])) === 'stuck') {
        this.opts.logger.warn({ graceMs }, 'the queue worker did not close after its last job; cutting its blocking connection');
        await Promise.all(this.workers.map((w) => w.backend.disconnectBlocking(false).catch(() => undefined)));
        await Promise.race([closed, delay(AFTER_CUT_MS, timers.signal)]);
      }
      timers.abort();
      await Promise.allSettled([...this.notices]);
      await this.cancelSub?.close();
    })();
    return this.closing;
  }
}
