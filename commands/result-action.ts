/**
 * What a pressed button (or a mapped reaction) asks for, decided by the commands. Everything
 * it needs is named by the action id and kept in the stores (the result, the presser's jobs, a
 * failed job's payload), which the caller looks up first (commands/bot-services.ts `lookUpAction`),
 * so buttons keep working after any restart of any process.
 *
 * A chat button's id can be copied onto any message (a forged custom_id, or a stale one), so
 * a press is only honoured on the message that really shows its result or job: the adapter
 * says which message was pressed and the stores say which one shows the target.
 */
import { PAN_ACTIONS, ZOOM_ACTIONS, type ActionRef } from '../src/actions.ts';
import type { JobPayload, JobResult } from '../src/jobs.ts';
import type { JobSummary } from '../src/queue/types.ts';
import { cancel } from './cancel.ts';
import { refuse, type CommandContext, type CommandOutcome, type MessageOutcome } from './context.ts';
import { deleteResult } from './delete.ts';
import { reseed } from './reseed.ts';
import { retry } from './retry.ts';
import { upscale } from './upscale.ts';
import { variation } from './variation.ts';
import { zoomOut } from './zoom-out.ts';
import { pan } from './pan.ts';

export interface ActionFacts {
  /** The result an image or whole-result action names; null once it has expired. */
  result?: JobResult | null;
  /** The presser's waiting and running jobs, for ✖ on a job. */
  jobs?: JobSummary[];
  /** The failed job's payload, for Retry; null when it is no longer kept. */
  failed?: JobPayload | null;
  /** The message that shows the job a Cancel or Retry names (its status message); null when no longer known. */
  jobMessageId?: string | null;
}

/** Buttons that open a form or an editor first; the platform adapters answer them, never this dispatch. */
const NEEDS_FORM = 'This button is not available here.';

const WRONG_MESSAGE = 'This button does not belong to this message, so nothing was done.';
const RESULT_NOT_POSTED = 'This result is still being posted; try again in a moment.';

/**
 * Refuses a press on a message other than the one showing the target. A result's message id is
 * recorded just after the message is posted, so a press in between finds none: buttons that only
 * start a new job (what any copied id could do from the requester's own message too) go ahead,
 * while ✖, which removes the pressed message, waits until the id is known. A job's status
 * message is kept for a limited time; once it is forgotten there is nothing to compare, and
 * Cancel and Retry still act only on the presser's own jobs.
 */
export function checkPressedMessage(ref: ActionRef, facts: ActionFacts, pressedMessageId: string): MessageOutcome | null {
  if ('jobId' in ref) {
    const shownOn = facts.jobMessageId ?? null;
    return shownOn !== null && shownOn !== pressedMessageId ? refuse('wrong-message', WRONG_MESSAGE) : null;
  }
  const result = facts.result ?? null;
  if (!result) return null; // the action itself answers that the result has expired
  if (!result.messageId) return ref.action === 'delete' ? refuse('wrong-message', RESULT_NOT_POSTED) : null;
  return result.messageId === pressedMessageId ? null : refuse('wrong-message', WRONG_MESSAGE);
}

/** `pressedMessageId`: the chat message the button was pressed on (absent where buttons cannot be moved, as on the web page). */
export function decideAction(ref: ActionRef, facts: ActionFacts, ctx: CommandContext, pressedMessageId?: string): CommandOutcome {
  if (pressedMessageId !== undefined) {
    const wrong = checkPressedMessage(ref, facts, pressedMessageId);
    if (wrong) return wrong;
  }
  const result = facts.result ?? null;
  switch (ref.action) {
    case 'upscale':
      return upscale({ result, index: ref.index }, ctx);
    case 'variation':
    case 'vary-strong':
      return variation({ result, index: ref.index, mode: 'strong' }, ctx);
    case 'vary-subtle':
      return variation({ result, index: ref.index, mode: 'subtle' }, ctx);
    case 'zoom-2':
    case 'zoom-1.5':
      return zoomOut({ result, index: ref.index, factor: ZOOM_ACTIONS[ref.action] }, ctx);
    case 'pan-left':
    case 'pan-right':
    case 'pan-up':
    case 'pan-down':
      return pan({ result, index: ref.index, direction: PAN_ACTIONS[ref.action] }, ctx);
    case 'zoom-custom':
    case 'vary-region':
    case 'remix':
      return refuse('not-available', NEEDS_FORM);
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
