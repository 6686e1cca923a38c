/**
 * What a pressed button (or a mapped reaction) asks for, decided by the commands. Everything
 * it needs is named by the action id and kept in the stores (the result, the presser's jobs, a
 * failed job's payload), which the caller looks up first (src/bot-services.ts `lookUpAction`),
 * so buttons keep working after any restart of any process.
 */
import type { ActionRef } from '../src/actions.ts';
import type { JobPayload, JobResult } from '../src/jobs.ts';
import type { JobSummary } from '../src/queue/types.ts';
import { cancel } from './cancel.ts';
import type { CommandContext, CommandOutcome } from './context.ts';
import { deleteResult } from './delete.ts';
import { reseed } from './reseed.ts';
import { retry } from './retry.ts';
import { upscale } from './upscale.ts';
import { variation } from './variation.ts';

export interface ActionFacts {
  /** The result an image or whole-result action names; null once it has expired. */
  result?: JobResult | null;
  /** The presser's waiting and running jobs, for ✖ on a job. */
  jobs?: JobSummary[];
  /** The failed job's payload, for Retry; null when it is no longer kept. */
  failed?: JobPayload | null;
}

export function decideAction(ref: ActionRef, facts: ActionFacts, ctx: CommandContext): CommandOutcome {
  const result = facts.result ?? null;
  switch (ref.action) {
    case 'upscale':
      return upscale({ result, index: ref.index }, ctx);
    case 'variation':
    case 'vary-strong':
      return variation({ result, index: ref.index, mode: 'strong' }, ctx);
    case 'vary-subtle':
      return variation({ result, index: ref.index, mode: 'subtle' }, ctx);
    case 'reseed':
      return reseed({ result }, ctx);
    case 'delete':
      return deleteResult({ result }, ctx);
    case 'cancel':
      return cancel({ jobs: facts.jobs ?? [], jobId: ref.jobId }, ctx);
    case 'retry':
      return retry({ failed: facts.failed ?? null }, ctx);
  }
}
