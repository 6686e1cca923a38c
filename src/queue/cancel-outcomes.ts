/** What a refused cancel tells the user, the same from every JobQueue implementation. */
import type { CancelOutcome } from './types.ts';

type Refusal = Extract<CancelOutcome, { ok: false }>;

export const CANCEL_REFUSALS: { [R in Refusal['reason']]: Refusal & { reason: R } } = {
  'not-found': { ok: false, reason: 'not-found', message: 'That job is not in the queue any more: it may have finished or been cancelled.' },
  'not-owner': { ok: false, reason: 'not-owner', message: 'Only the person who started this job can cancel it.' },
  finished: { ok: false, reason: 'finished', message: 'That job has already finished.' },
};
