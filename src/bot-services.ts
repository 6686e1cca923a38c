/**
 * What every chat adapter's inbound side (Discord, Slack, the web playground) takes from the
 * process: the queue, the stores and the model catalog; and the store lookups they all make.
 * Adapters add only their platform's parts (configuration, API clients).
 */
import type { TokenCounter } from '../commands/context.ts';
import type { ActionFacts } from '../commands/result-action.ts';
import type { ActionRef } from './actions.ts';
import { jobPayloadSchema, type JobPayload } from './jobs.ts';
import type { KeyValueStore } from './kv.ts';
import type { Logger } from './logger.ts';
import type { ModelCatalog } from './models.ts';
import { BullmqJobQueue } from './queue/bullmq-queue.ts';
import { LocalJobQueue } from './queue/local-queue.ts';
import type { JobQueue } from './queue/types.ts';
import type { ResultStore } from './results.ts';

export type JobPayloadLookup = (jobId: string) => Promise<JobPayload | null>;

export interface BotServices {
  queue: JobQueue;
  results: ResultStore;
  /** Shared with the workers (Redis in a fleet): holds, dedupe, per-platform state. */
  kv: KeyValueStore;
  models: ModelCatalog;
  countTokens: TokenCounter;
  logger: Logger;
  /** A failed job's payload, for Retry; without it Retry answers that the request is no longer stored. */
  jobPayload?: JobPayloadLookup;
  /** Tests inject a fixed source; otherwise seeds come from the system's CSPRNG. */
  randomSeed?: () => number;
}

/**
 * Retry needs a failed job's payload: the in-process queue keeps it, and BullMQ keeps failed
 * jobs (removeOnFail by age). Undefined for a queue that keeps neither.
 */
export function jobPayloadLookup(queue: JobQueue): JobPayloadLookup | undefined {
  if (queue instanceof LocalJobQueue) return (jobId) => queue.jobPayload(jobId);
  if (!(queue instanceof BullmqJobQueue)) return undefined;
  return async (jobId) => {
    const job = await queue.queue.getJob(jobId);
    const parsed = jobPayloadSchema.safeParse(job?.data);
    return parsed.success ? parsed.data : null;
  };
}

/** What a button press is decided on (commands/result-action.ts), from the stores alone. */
export async function lookUpAction(services: Pick<BotServices, 'queue' | 'results' | 'jobPayload'>, ref: ActionRef, userId: string): Promise<ActionFacts> {
  if ('jobId' in ref) {
    if (ref.action === 'cancel') return { jobs: await services.queue.userJobs(userId) };
    return { failed: services.jobPayload ? await services.jobPayload(ref.jobId) : null };
  }
  return { result: await services.results.get(ref.resultId) };
}
