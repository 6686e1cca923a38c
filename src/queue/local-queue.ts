/**
 * The JobQueue in process memory, for `npm start` with no Redis: the bot half enqueues here
 * and the worker half (worker/local-consumer.ts) takes jobs from here, in one process.
 *
 * It keeps BullMQ's semantics rather than inventing its own, so the adapters and the worker
 * cannot tell the backends apart:
 * - enqueue validates exactly as the Redis queue does (enqueue-validation.ts), and admits in
 *   the same order with the same numbers and messages (limits.ts): dedupe, then the user's
 *   queued/running cap and per-minute rate, then the same two for the client when the adapter
 *   names one (EnqueueOptions.clientKey), then the global depth cap; the slot is reserved
 *   before the caller's prepare step runs and released if it fails;
 * - jobs are taken in the same fair order (fair-order.ts: round robin over workspaces and their
 *   users, a user's own jobs in order); positions are 1-based in that order, 0 while running, and
 *   a job waiting for a retry rejoins at its own turn; null once finished;
 * - cancel removes a waiting (or retry-waiting) job and only flags a running one: the
 *   consumer hears the request and stops the job at its next step;
 * - attempts and exponential backoff come from the same job options as BullMQ's
 *   (job-options.ts), an UnrecoverableError fails a job without retry (recognised by name, as
 *   BullMQ does, so this file needs no BullMQ), and finished jobs are kept for the same ages
 *   and counts.
 *
 * The consumer side is the subset of a BullMQ Worker the worker uses: process(processor) hands
 * out LocalJobs shaped like BullMQ Jobs (id, data, attemptsMade, opts.attempts, timestamps,
 * updateProgress), and 'completed'/'failed' events follow each attempt.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Config } from '../config.ts';
import type { JobPayload, JobResult } from '../jobs.ts';
import type { KeyValueStore } from '../kv.ts';
import { storeSecret } from '../platform-secrets.ts';
import { defaultJobOptions, isUnrecoverable } from './job-options.ts';
import { CANCEL_REFUSALS } from './cancel-outcomes.ts';
import { validateEnqueue, validatePrepared } from './enqueue-validation.ts';
import { FairClock } from './fair-order.ts';
import { DEDUPE_TTL_MS, limitSubjects, RATE_WINDOW_MS, refusalMessage } from './limits.ts';
import type { CancelOutcome, EnqueueOptions, EnqueueOutcome, EnqueueRefusal, InProcessJobs, JobProgress, JobQueue, JobSummary, LimitSubject, LocalJob, LocalProcessor, LocalWorker, QueueCounts, QueuedJobData } from './types.ts';

export type { LocalJob, LocalProcessor, LocalWorker } from './types.ts';

export type LocalQueueConfig = Pick<Config, 'JOB_ATTEMPTS' | 'LIMIT_USER_QUEUED' | 'LIMIT_USER_PER_MINUTE' | 'LIMIT_QUEUE_DEPTH'>;

export type LocalJobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export interface LocalJobQueueOptions {
  config: LocalQueueConfig;
  /** Where platform secrets go: the store the worker's job runner reads them from. */
  secrets: KeyValueStore;
  /** Clock for the rate window and retention (tests move it). */
  now?: () => number;
  /** First retry delay; default the BullMQ job options' backoff delay. */
  backoffDelayMs?: number;
}

interface Entry {
  readonly id: string;
  readonly data: QueuedJobData;
  /** The per-subject map keys (user, and client when named) the job counts against. */
  readonly limitKeys: string[];
  readonly timestamp: number;
  /** Its fair-turn priority (fair-order.ts): the waiting line is kept sorted by it, arrival order among equals. */
  readonly priority: number;
  state: LocalJobState;
  attemptsMade: number;
  processedOn?: number;
  finishedOn?: number;
  progress: JobProgress | null;
  failedReason?: string;
  retryTimer?: NodeJS.Timeout;
}

/** The per-subject maps hold users and clients side by side; the name keeps a user id from ever meaning a client. */
const subjectKey = (subject: { name: LimitSubject; id: string }) => `${subject.name}:${subject.id}`;

interface Retention {
  ageMs: number;
  count: number;
}

function retention(option: unknown, fallback: Retention): Retention {
  if (typeof option === 'object' && option !== null) {
    const { age, count } = option as { age?: number; count?: number };
    return { ageMs: age !== undefined ? age * 1000 : fallback.ageMs, count: count ?? fallback.count };
  }
  return fallback;
}

export class LocalJobQueue extends EventEmitter implements JobQueue, InProcessJobs {
  readonly backend = 'local' as const;
  /** Jobs run in this process: the worker half takes them from this queue itself. */
  readonly inProcess: InProcessJobs = this;
  private readonly jobs = new Map<string, Entry>();
  /** In fair order (by priority, then arrival): the front is next to run. */
  private readonly waiting: string[] = [];
  private readonly fair = new FairClock();
  private readonly delayed = new Set<string>();
  private readonly active = new Set<string>();
  /** Finished ids in finishing order, for retention. */
  private readonly finished: Record<'completed' | 'failed', string[]> = { completed: [], failed: [] };
  /**
   * A subject's (user's or client's: subjectKey) live job ids in the order they were admitted.
   * An entry exists only while the subject has a live job: finishing or removing the last one
   * deletes it, so distinct requesters cannot grow this map.
   */
  private readonly userJobIds = new Map<string, string[]>();
  /**
   * A subject's admissions in the last minute: [at ms, job id], oldest first. Kept in the order
   * of each subject's latest admission (re-inserted on every admission), so the entries whose
   * window has passed are always at the front and sweepStarts drops them without a scan.
   */
  private readonly userStarts = new Map<string, [number, string][]>();
  private readonly dedupe = new Map<string, { jobId: string; expiresAt: number }>();
  /** Admitted ids whose job is not added yet (the caller's prepare step or the secret store is running). */
  private readonly reserved = new Set<string>();
  private readonly cancelRequested = new Set<string>();
  private readonly cancelListeners = new Set<(jobId: string) => void>();
  private readonly attempts: number;
  private readonly backoffDelayMs: number;
  private readonly keepCompleted: Retention;
  private readonly keepFailed: Retention;
  private readonly now: () => number;
  private readonly config: LocalQueueConfig;
  private readonly secrets: KeyValueStore;
  private processor: { run: LocalProcessor; concurrency: number; settled: Set<Promise<void>> } | null = null;
  private closed = false;

  constructor(opts: LocalJobQueueOptions) {
    super();
    this.config = opts.config;
    this.secrets = opts.secrets;
    this.now = opts.now ?? Date.now;
    const jobOptions = defaultJobOptions(opts.config);
    this.attempts = jobOptions.attempts ?? 1;
    const backoff = jobOptions.backoff;
    this.backoffDelayMs = opts.backoffDelayMs ?? (typeof backoff === 'object' ? (backoff.delay ?? 0) : (backoff ?? 0));
    this.keepCompleted = retention(jobOptions.removeOnComplete, { ageMs: Infinity, count: Infinity });
    this.keepFailed = retention(jobOptions.removeOnFail, { ageMs: Infinity, count: Infinity });
  }

  // ---- producer side (JobQueue) ----

  async enqueue(input: JobPayload, opts: EnqueueOptions = {}): Promise<EnqueueOutcome> {
    if (this.closed) throw new Error('enqueue failed: the local queue is closed');
    const { payload, secret } = validateEnqueue(input, opts.secret);
    const userId = payload.origin.userId;
    const now = this.now();

    if (opts.dedupeId) {
      const first = this.dedupe.get(opts.dedupeId);
      if (first && first.expiresAt > now) return { ok: true, jobId: first.jobId, position: this.positionOf(first.jobId) ?? 0, duplicate: true };
    }
    this.sweepStarts(now);
    this.sweepDedupe(now);
    // The user's caps, then the client's (when the adapter names one), in the Redis script's order.
    // A refused request stores nothing: only an admission below creates or refreshes an entry.
    const counted: { live: string[]; starts: [number, string][]; key: string }[] = [];
    for (const subject of limitSubjects({ userId, clientKey: opts.clientKey })) {
      const key = subjectKey(subject);
      const live = this.liveUserJobs(key);
      if (live.length >= this.config.LIMIT_USER_QUEUED) return this.refuse(`${subject.name}-queued-limit`);
      const starts = (this.userStarts.get(key) ?? []).filter(([at]) => at > now - RATE_WINDOW_MS);
      if (starts.length >= this.config.LIMIT_USER_PER_MINUTE) return this.refuse(`${subject.name}-rate-limit`, starts[0][0] + RATE_WINDOW_MS - now);
      counted.push({ live, starts, key });
    }
    if (this.waiting.length + this.delayed.size + this.reserved.size >= this.config.LIMIT_QUEUE_DEPTH) return this.refuse('queue-full');

    // The slot is reserved before the first await, so concurrent enqueues (and a slow prepare step) cannot overshoot a limit.
    const jobId = randomUUID();
    this.reserved.add(jobId);
    for (const { live, starts, key } of counted) {
      live.push(jobId);
      this.userJobIds.set(key, live);
      starts.push([now, jobId]);
      // Re-inserted at the back, so both maps stay in expiry order and the sweeps never scan.
      this.userStarts.delete(key);
      this.userStarts.set(key, starts);
    }
    if (opts.dedupeId) {
      this.dedupe.delete(opts.dedupeId);
      this.dedupe.set(opts.dedupeId, { jobId, expiresAt: now + DEDUPE_TTL_MS });
    }
    let queued = payload;
    try {
      if (opts.prepare) queued = validatePrepared(payload, await opts.prepare(payload));
      // Stored before the job can be taken, as the Redis queue does, so the worker finds it.
      if (secret) await storeSecret(this.secrets, jobId, secret);
    } catch (err) {
      this.releaseReservation(counted.map(({ key }) => key), jobId, opts.dedupeId);
      throw err;
    }
    this.reserved.delete(jobId);
    const head = this.waiting.length > 0 ? this.jobs.get(this.waiting[0])!.priority : undefined;
    const entry: Entry = {
      id: jobId,
      data: queued,
      limitKeys: counted.map(({ key }) => key),
      timestamp: now,
      priority: this.fair.priority(queued.origin, head),
      state: 'waiting',
      attemptsMade: 0,
      progress: null,
    };
    this.jobs.set(jobId, entry);
    this.joinLine(entry);
    const position = this.positionOf(jobId) ?? 0;
    this.pump();
    return { ok: true, jobId, position, duplicate: false };
  }

  async position(jobId: string): Promise<number | null> {
    return this.positionOf(jobId);
  }

  async cancel(jobId: string, byUserId: string): Promise<CancelOutcome> {
    const job = this.jobs.get(jobId);
    if (!job) return CANCEL_REFUSALS['not-found'];
    if (job.data.origin.userId !== byUserId) return CANCEL_REFUSALS['not-owner'];
    if (job.state === 'completed' || job.state === 'failed') return CANCEL_REFUSALS.finished;
    if (job.state === 'waiting' || job.state === 'delayed') {
      this.remove(job);
      await this.secrets.del(`secret:${jobId}`);
      return { ok: true, state: 'removed' };
    }
    this.cancelRequested.add(jobId);
    for (const listener of this.cancelListeners) listener(jobId);
    return { ok: true, state: 'cancelling' };
  }

  async userJobs(userId: string): Promise<JobSummary[]> {
    return this.liveUserJobs(subjectKey({ name: 'user', id: userId })).map((jobId) => {
      const job = this.jobs.get(jobId)!;
      return { jobId, state: job.state === 'active' ? 'active' : 'waiting', position: this.positionOf(jobId), payload: job.data };
    });
  }

  async counts(): Promise<QueueCounts> {
    this.trimFinished();
    return {
      waiting: this.waiting.length,
      active: this.active.size,
      completed: this.finished.completed.length,
      failed: this.finished.failed.length,
      delayed: this.delayed.size,
    };
  }

  /** A job's payload while it is kept (waiting, running, or finished within retention): what Retry runs again. */
  async jobPayload(jobId: string): Promise<JobPayload | null> {
    const job = this.jobs.get(jobId);
    return job ? job.data : null;
  }

  /** The job's state, its last reported progress and why it failed, or null when unknown. */
  jobState(jobId: string): { state: LocalJobState; attemptsMade: number; progress: JobProgress | null; failedReason?: string; processedOn?: number; finishedOn?: number } | null {
    const job = this.jobs.get(jobId);
    return job ? { state: job.state, attemptsMade: job.attemptsMade, progress: job.progress, failedReason: job.failedReason, processedOn: job.processedOn, finishedOn: job.finishedOn } : null;
  }

  /**
   * How many entries the per-user and dedupe bookkeeping holds: what a long-running process
   * must not accumulate (each map is pruned of users with nothing live or recent).
   */
  bookkeepingSize(): { users: number; rateWindows: number; dedupeIds: number } {
    return { users: this.userJobIds.size, rateWindows: this.userStarts.size, dedupeIds: this.dedupe.size };
  }

  /** Stops admitting jobs and drops the retry timers; a worker still running jobs finishes them (close it first). */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of this.delayed) clearTimeout(this.jobs.get(id)?.retryTimer);
  }

  // ---- cancel requests (what cancel-signal.ts is for the Redis queue) ----

  /** Calls listener(jobId) for every cancel request of a running job from now on; returns the unsubscribe. */
  onCancelRequested(listener: (jobId: string) => void): () => void {
    this.cancelListeners.add(listener);
    return () => this.cancelListeners.delete(listener);
  }

  isCancelRequested(jobId: string): boolean {
    return this.cancelRequested.has(jobId);
  }

  clearCancel(jobId: string): void {
    this.cancelRequested.delete(jobId);
  }

  // ---- consumer side ----

  /** Start handing jobs to `processor`, at most `concurrency` at once. One processor per queue. */
  process(processor: LocalProcessor, opts: { concurrency: number }): LocalWorker {
    if (this.processor) throw new Error('the local queue already has a processor');
    if (!(opts.concurrency >= 1)) throw new RangeError(`concurrency must be at least 1, got ${opts.concurrency}`);
    const state = { run: processor, concurrency: opts.concurrency, settled: new Set<Promise<void>>() };
    this.processor = state;
    const queue = this;
    queueMicrotask(() => this.pump());
    return {
      get running() {
        return state.settled.size;
      },
      get concurrency() {
        return state.concurrency;
      },
      set concurrency(n: number) {
        if (!(n >= 1)) throw new RangeError(`concurrency must be at least 1, got ${n}`);
        state.concurrency = n;
        queueMicrotask(() => queue.pump());
      },
      close: async () => {
        if (this.processor === state) this.processor = null;
        while (state.settled.size > 0) await Promise.allSettled([...state.settled]);
      },
    };
  }

  private pump(): void {
    const p = this.processor;
    if (!p) return;
    while (p.settled.size < p.concurrency && this.waiting.length > 0) {
      const job = this.jobs.get(this.waiting.shift()!)!;
      job.state = 'active';
      job.processedOn = this.now();
      this.active.add(job.id);
      const settled = this.runAttempt(p.run, job).finally(() => {
        p.settled.delete(settled);
        this.pump();
      });
      p.settled.add(settled);
    }
  }

  private async runAttempt(run: LocalProcessor, job: Entry): Promise<void> {
    const view: LocalJob = {
      id: job.id,
      name: job.data.kind,
      data: job.data,
      attemptsMade: job.attemptsMade,
      opts: { attempts: this.attempts },
      timestamp: job.timestamp,
      processedOn: job.processedOn,
      updateProgress: async (progress) => {
        job.progress = { ...progress };
        this.emit('progress', view, job.progress);
      },
    };
    let result: JobResult;
    try {
      result = await run(view);
    } catch (err) {
      this.afterFailure(job, view, err);
      return;
    }
    this.active.delete(job.id);
    this.cancelRequested.delete(job.id);
    job.state = 'completed';
    job.finishedOn = this.now();
    job.attemptsMade++;
    this.forgetUserJob(job);
    this.finished.completed.push(job.id);
    this.trimFinished();
    this.emit('completed', view, result);
  }

  private afterFailure(job: Entry, view: LocalJob, err: unknown): void {
    this.active.delete(job.id);
    job.attemptsMade++;
    job.failedReason = (err as Error)?.message ?? String(err);
    const final = isUnrecoverable(err) || job.attemptsMade >= this.attempts || this.closed;
    if (final) {
      this.cancelRequested.delete(job.id);
      job.state = 'failed';
      job.finishedOn = this.now();
      this.forgetUserJob(job);
      this.finished.failed.push(job.id);
      this.trimFinished();
    } else {
      // BullMQ's exponential backoff: delay × 2^(attempts made − 1), then back of the line.
      job.state = 'delayed';
      this.delayed.add(job.id);
      job.retryTimer = setTimeout(() => {
        if (!this.delayed.delete(job.id)) return;
        job.state = 'waiting';
        this.joinLine(job);
        this.pump();
      }, this.backoffDelayMs * 2 ** (job.attemptsMade - 1));
      job.retryTimer.unref();
    }
    this.emit('failed', view, err);
  }

  private positionOf(jobId: string): number | null {
    const job = this.jobs.get(jobId);
    if (!job) return null;
    switch (job.state) {
      case 'waiting':
        return this.waiting.indexOf(jobId) + 1;
      case 'active':
        return 0;
      case 'delayed':
        return this.behind(job.priority) + 1;
      default:
        return null;
    }
  }

  /** How many waiting jobs have a priority up to `priority`: where a job with it joins (after its equals, as BullMQ's arrival counter puts it). */
  private behind(priority: number): number {
    let lo = 0;
    let hi = this.waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.jobs.get(this.waiting[mid])!.priority <= priority) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private joinLine(job: Entry): void {
    this.waiting.splice(this.behind(job.priority), 0, job.id);
  }

  /** A subject's (subjectKey) reserved, waiting, retry-waiting and running jobs, oldest first (finished and removed ones are dropped). */
  private liveUserJobs(key: string): string[] {
    const live = (this.userJobIds.get(key) ?? []).filter((id) => {
      const state = this.jobs.get(id)?.state;
      return this.reserved.has(id) || state === 'waiting' || state === 'delayed' || state === 'active';
    });
    if (live.length > 0) this.userJobIds.set(key, live);
    else this.userJobIds.delete(key);
    return live;
  }

  /** Undo a reservation whose job was never added, as the Redis queue's release does: the subjects' slots and minute entries, the dedupe key. */
  private releaseReservation(keys: string[], jobId: string, dedupeId: string | undefined): void {
    this.reserved.delete(jobId);
    for (const key of keys) {
      this.liveUserJobs(key);
      const starts = (this.userStarts.get(key) ?? []).filter(([, id]) => id !== jobId);
      if (starts.length > 0) this.userStarts.set(key, starts);
      else this.userStarts.delete(key);
    }
    if (dedupeId && this.dedupe.get(dedupeId)?.jobId === jobId) this.dedupe.delete(dedupeId);
  }

  private refuse(reason: EnqueueRefusal, retryAfterMs?: number): EnqueueOutcome {
    return { ok: false, reason, message: refusalMessage(reason, this.config, retryAfterMs) };
  }

  /** A removed job is gone entirely, as BullMQ's remove leaves nothing behind; its per-minute start still counts. */
  private remove(job: Entry): void {
    const i = this.waiting.indexOf(job.id);
    if (i >= 0) this.waiting.splice(i, 1);
    if (this.delayed.delete(job.id)) clearTimeout(job.retryTimer);
    this.jobs.delete(job.id);
    this.forgetUserJob(job);
  }

  /** A finished or removed job leaves its subjects' live lists; a subject's entry goes with its last one. */
  private forgetUserJob(job: Entry): void {
    for (const key of job.limitKeys) {
      const ids = this.userJobIds.get(key);
      if (!ids) continue;
      const rest = ids.filter((id) => id !== job.id);
      if (rest.length > 0) this.userJobIds.set(key, rest);
      else this.userJobIds.delete(key);
    }
  }

  /** Drops users whose latest admission has left the rate window (they are at the front: see userStarts). */
  private sweepStarts(now: number): void {
    for (const [userId, starts] of this.userStarts) {
      if (starts[starts.length - 1][0] > now - RATE_WINDOW_MS) break;
      this.userStarts.delete(userId);
    }
  }

  private trimFinished(): void {
    const now = this.now();
    for (const [kind, keep] of [
      ['completed', this.keepCompleted],
      ['failed', this.keepFailed],
    ] as const) {
      const ids = this.finished[kind];
      let drop = Math.max(0, ids.length - keep.count);
      while (drop < ids.length && now - (this.jobs.get(ids[drop])?.finishedOn ?? 0) > keep.ageMs) drop++;
      for (const id of ids.splice(0, drop)) this.jobs.delete(id);
    }
  }

  /** Every dedupe id lives the same time, so insertion order is expiry order: the expired ones are at the front. */
  private sweepDedupe(now: number): void {
    for (const [id, entry] of this.dedupe) {
      if (entry.expiresAt > now) break;
      this.dedupe.delete(id);
    }
  }
}
