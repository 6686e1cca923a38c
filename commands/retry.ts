/**
 * Retry on a failed job: the same payload again (same seed, so the same image if it
 * succeeds), answered where the button was pressed.
 */
import { jobPayloadSchema, type JobPayload } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome } from './context.ts';
import { refuse } from './context.ts';
import { mayPress, notAllowedMessage, parsePressPolicy } from './press-policy.ts';
import { jobOutcome } from './job-outcome.ts';
import { describeParams } from './summary.ts';

export interface RetryInput {
  /** The failed job's payload, or null once it is no longer stored. */
  failed: JobPayload | null;
}

export function retry(input: RetryInput, ctx: CommandContext): CommandOutcome {
  if (!input.failed) return refuse('expired', 'That request is no longer stored; run /imagine again.');
  const policy = parsePressPolicy(ctx.limits.pressPolicy);
  if (!mayPress(policy, input.failed.origin, ctx.origin, ctx.roles)) return refuse('not-allowed', notAllowedMessage(policy));
  if (!ctx.models.get(input.failed.params.model)) {
    return refuse('unknown-model', `The model ${input.failed.params.model} is no longer available here.`);
  }
  // A payload stored by an older version may no longer match today's schema.
  const parsed = jobPayloadSchema.safeParse({ ...input.failed, origin: ctx.origin, createdAt: ctx.now });
  if (!parsed.success) return refuse('not-retryable', 'That request can no longer be run as it was; run /imagine again.');
  return jobOutcome(parsed.data, ctx, [], `Retry · ${describeParams(parsed.data.params)}`);
}
