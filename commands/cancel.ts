/**
 * /cancel and ✖ on a progress message: which of the user's own waiting or running jobs to
 * cancel. Only your own jobs: press policies govern results, not other people's queue slots.
 */
import type { JobSummary } from '../src/queue/types.ts';
import type { CommandContext, CommandOutcome } from './context.ts';
import { refuse } from './context.ts';

export interface CancelInput {
  /** The presser's jobs as the queue reports them (JobQueue.userJobs). */
  jobs: readonly JobSummary[];
  /** One job (the ✖ button); absent = all of the user's waiting and running jobs. */
  jobId?: string;
}

export function cancel(input: CancelInput, ctx: CommandContext): CommandOutcome {
  const mine = input.jobs.filter(
    (j) => (j.state === 'waiting' || j.state === 'active') && j.payload.origin.userId === ctx.origin.userId && j.payload.origin.platform === ctx.origin.platform,
  );
  if (input.jobId !== undefined) {
    if (!mine.some((j) => j.jobId === input.jobId)) return refuse('not-found', 'That job is not yours, or it has already finished.');
    return { kind: 'cancel', jobIds: [input.jobId], summary: 'Cancelling your job.' };
  }
  if (mine.length === 0) return refuse('nothing-to-cancel', 'You have no queued or running jobs.');
  return { kind: 'cancel', jobIds: mine.map((j) => j.jobId), summary: mine.length === 1 ? 'Cancelling your job.' : `Cancelling your ${mine.length} jobs.` };
}
