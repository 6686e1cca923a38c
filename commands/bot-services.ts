/**
 * What every chat adapter's inbound side (Discord, Slack, the web playground) takes from the
 * process: the queue, the stores and the model catalog; and the store lookups they all make.
 * Adapters add only their platform's parts (configuration, API clients).
 */
import type { TokenCounter } from './context.ts';
import type { ActionFacts } from './result-action.ts';
import type { ActionRef } from '../src/actions.ts';
import type { JobPayload } from '../src/jobs.ts';
import type { KeyValueStore } from '../src/kv.ts';
import type { Logger } from '../src/logger.ts';
import type { ModelCatalog } from '../src/models.ts';
import type { JobQueue } from '../src/queue/types.ts';
import type { ResultStore } from '../src/results.ts';

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
 * Retry needs a failed job's payload: every queue keeps it while it keeps the job (the
 * in-process queue in memory, BullMQ's failed jobs by age), and answers JobQueue.jobPayload.
 */
export function jobPayloadLookup(queue: JobQueue): JobPayloadLookup {
  return (jobId) => queue.jobPayload(jobId);
}

/** Which platform message shows a job (its status message), from the adapter's own records and the job's origin. */
export type JobMessageLookup = (jobId: string, payload: JobPayload | null) => Promise<string | null>;

/**
 * What a button press is decided on (commands/result-action.ts), from the stores alone.
 * `jobMessage` is given by chat adapters, whose job buttons sit on a message that a press
 * must match.
 */
export async function lookUpAction(services: Pick<BotServices, 'queue' | 'results' | 'jobPayload'>, ref: ActionRef, userId: string, jobMessage?: JobMessageLookup): Promise<ActionFacts> {
  if ('jobId' in ref) {
    const facts: ActionFacts =
      ref.action === 'cancel' ? { jobs: await services.queue.userJobs(userId) } : { failed: services.jobPayload ? await services.jobPayload(ref.jobId) : null };
    if (!jobMessage) return facts;
    const payload = facts.failed ?? facts.jobs?.find((j) => j.jobId === ref.jobId)?.payload ?? null;
    return { ...facts, jobMessageId: await jobMessage(ref.jobId, payload) };
  }
  return { result: await services.results.get(ref.resultId) };
}
