/**
 * Where every command that makes a job hands it back: the job is checked against the limits
 * the worker checks it against again (src/job-limits.ts), so a job the worker would refuse is
 * refused here, in the same words, and never enqueued. A stored result made under larger
 * limits or another model size (a variation, a reseed, a Retry) is caught here too.
 */
import type { JobPayload } from '../src/jobs.ts';
import { jobLimitViolation } from '../src/job-limits.ts';
import type { CommandContext, CommandOutcome, CommandWarning } from './context.ts';
import { refuse } from './context.ts';

export function jobOutcome(payload: JobPayload, ctx: CommandContext, warnings: CommandWarning[], summary: string): CommandOutcome {
  const model = ctx.models.get(payload.params.model);
  if (!model) return refuse('unknown-model', `The model ${payload.params.model} is not available here.`);
  const violation = jobLimitViolation(payload, ctx.limits, model);
  if (violation) return refuse('out-of-range', violation.message);
  return { kind: 'job', payload, dedupeId: ctx.origin.eventId, warnings, summary };
}
