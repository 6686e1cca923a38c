/**
 * The queue interface every part codes against. Two implementations: BullMQ on Redis
 * (bullmq-queue.ts, for fleets) and the in-process runner (local-queue.ts, for `npm start`
 * with no Redis). Same payload schemas, limits, progress, cancel and delivery paths; one
 * conformance suite (test/queue/conformance.test.ts) holds both to this interface, so no caller
 * needs to know which one it has.
 */
import type { JobPayload, JobResult } from '../jobs.ts';
import type { SecretGrant } from '../platform-secrets.ts';

/** What a queue stores as a job's data: the validated payload and nothing else. */
export type QueuedJobData = JobPayload;

/** What the per-user caps are counted for: the requesting user, and (web playground) the client address behind it. */
export type LimitSubject = 'user' | 'client';

export type EnqueueRefusal =
  | 'user-queued-limit' // too many of this user's jobs waiting or running
  | 'user-rate-limit' // too many jobs from this user in the last minute
  | 'client-queued-limit' // the same, counted over every user of one client (EnqueueOptions.clientKey)
  | 'client-rate-limit'
  | 'queue-full'; // global depth cap

export type EnqueueOutcome =
  | { ok: true; jobId: string; position: number; duplicate: boolean }
  | { ok: false; reason: EnqueueRefusal; message: string };

export interface EnqueueOptions {
  /** Same platform event delivered twice -> one job. Usually the interaction / event id. */
  dedupeId?: string;
  /**
   * A second subject the per-user caps apply to, beside the payload's user: the web playground's
   * client address (hashed), so one client cannot get past the caps by switching sessions or
   * sending none. Not stored in the job.
   */
  clientKey?: string;
  /** Kept under its own key for the lifetime its platform grants, never in the job data. */
  secret?: SecretGrant;
  /**
   * Work that only an admitted job may cost (fetching and storing an attached start image):
   * runs once the job's slot is reserved, before the job is added; what it returns is the
   * payload that is queued (validated again; same user). If it throws, the slot is released
   * and the error reaches the caller. Its own downloads must be bounded well under a minute,
   * the time a reservation is held without a job.
   */
  prepare?: (payload: JobPayload) => Promise<JobPayload>;
}

export type CancelOutcome =
  | { ok: true; state: 'removed' | 'cancelling' }
  | { ok: false; reason: 'not-found' | 'not-owner' | 'finished'; message: string };

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'cancelled' | 'unknown';

export interface JobSummary {
  jobId: string;
  state: JobState;
  position: number | null;
  payload: JobPayload;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  delayed: number;
}

/** The producer side: adapters and commands enqueue, look up and cancel jobs. */
export interface JobQueue {
  readonly backend: 'redis' | 'local';
  enqueue(payload: JobPayload, opts?: EnqueueOptions): Promise<EnqueueOutcome>;
  /** 1-based position among waiting jobs; 0 when active; null when finished or unknown. */
  position(jobId: string): Promise<number | null>;
  /** Waiting jobs are removed; active jobs are flagged and stop at the worker's next step. */
  cancel(jobId: string, byUserId: string): Promise<CancelOutcome>;
  /** A user's waiting and active jobs, oldest first. */
  userJobs(userId: string): Promise<JobSummary[]>;
  counts(): Promise<QueueCounts>;
  /**
   * A job's payload while the queue keeps it (waiting, running, or finished within retention):
   * what Retry runs again. Null once it is gone, or when what is stored is no valid payload.
   */
  jobPayload(jobId: string): Promise<JobPayload | null>;
  /**
   * The consumer side when this queue's jobs run in this process (the in-process queue: the
   * worker half takes them from it, and closing the process drops the ones still waiting);
   * null when workers take them from elsewhere (BullMQ on Redis).
   */
  readonly inProcess: InProcessJobs | null;
  close(): Promise<void>;
}

/** What a job handler is given by the consumer side (the worker). */
export interface ActiveJob {
  id: string;
  payload: JobPayload;
  attemptsMade: number;
  /** Aborted when the job is cancelled or times out. */
  signal: AbortSignal;
  updateProgress(progress: JobProgress): Promise<void>;
}

export interface JobProgress {
  step: number;
  total: number;
  etaMs?: number;
}

export type JobHandler = (job: ActiveJob) => Promise<JobResult>;

// ---- the consumer side of a queue whose jobs run in this process (JobQueue.inProcess) ----
// The subset of a BullMQ Worker the worker half uses; a queue on Redis has none: its workers consume from Redis.

/** What a processor is handed: the fields of a BullMQ Job the worker reads. */
export interface LocalJob {
  readonly id: string;
  readonly name: string;
  readonly data: QueuedJobData;
  readonly attemptsMade: number;
  readonly opts: { readonly attempts: number };
  readonly timestamp: number;
  readonly processedOn?: number;
  updateProgress(progress: JobProgress): Promise<void>;
}

export type LocalProcessor = (job: LocalJob) => Promise<JobResult>;

export interface LocalWorker {
  /** Jobs being processed now. */
  readonly running: number;
  /** Jobs it may hold at once; raising it hands out waiting jobs at once (as BullMQ's Worker.concurrency). */
  concurrency: number;
  /** Stop taking jobs and wait for the ones in hand to settle. */
  close(): Promise<void>;
}

/** An attempt ended: 'completed' (with its result) or 'failed' (with its error), as BullMQ's Worker events. */
export type SettledListener = (job: LocalJob, outcome: unknown) => void;

export interface InProcessJobs {
  /** Start handing jobs to `processor`, at most `concurrency` at once. One processor per queue. */
  process(processor: LocalProcessor, opts: { concurrency: number }): LocalWorker;
  /** Calls listener(jobId) for every cancel request of a running job from now on; returns the unsubscribe. */
  onCancelRequested(listener: (jobId: string) => void): () => void;
  isCancelRequested(jobId: string): boolean;
  clearCancel(jobId: string): void;
  on(event: 'completed' | 'failed', listener: SettledListener): unknown;
  off(event: 'completed' | 'failed', listener: SettledListener): unknown;
  counts(): Promise<QueueCounts>;
}
