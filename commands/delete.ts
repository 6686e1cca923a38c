/**
 * ✖ on a result: remove its message. The requester may; under a roles policy so may the
 * listed roles (moderators). "anyone" lets people press buttons, not delete others' images.
 */
import type { JobResult } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome } from './context.ts';
import { refuse } from './context.ts';
import { mayPress, notAllowedMessage, parsePressPolicy } from './press-policy.ts';

export interface DeleteInput {
  result: JobResult | null;
}

export function deleteResult(input: DeleteInput, ctx: CommandContext): CommandOutcome {
  if (!input.result) return refuse('expired', 'This result has expired, so it can no longer be removed with a button.');
  const configured = parsePressPolicy(ctx.limits.pressPolicy);
  const policy = configured.kind === 'anyone' ? ({ kind: 'requester' } as const) : configured;
  if (!mayPress(policy, input.result.origin, ctx.origin, ctx.roles)) return refuse('not-allowed', notAllowedMessage(policy).replace('use these buttons', 'remove it'));
  return { kind: 'delete', resultId: input.result.resultId, messageId: input.result.messageId, summary: 'Removed.' };
}
