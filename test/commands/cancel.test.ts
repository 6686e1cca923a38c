/** Cancel: which of a user's live jobs it cancels (all on this platform, or one named), and what it says when none is left. */
import { describe, expect, it } from 'vitest';
import { cancel } from '../../commands/cancel.ts';
import type { JobSummary } from '../../src/queue/types.ts';
import { context, failedPayload, origin } from '../support/command-context.ts';

describe('cancel', () => {
  const job = (jobId: string, state: JobSummary['state'], userId = 'u1', platform: 'discord' | 'slack' = 'discord'): JobSummary => ({
    jobId,
    state,
    position: state === 'waiting' ? 1 : 0,
    payload: { ...failedPayload(userId), origin: origin({ userId, platform }) },
  });
  const jobs = [job('1', 'active'), job('2', 'waiting'), job('3', 'completed'), job('4', 'waiting', 'u2'), job('5', 'waiting', 'u1', 'slack')];

  it('cancels all of the user\'s waiting and running jobs on this platform', () => {
    expect(cancel({ jobs }, context())).toEqual({ kind: 'cancel', jobIds: ['1', '2'], summary: 'Cancelling your 2 jobs.' });
    expect(cancel({ jobs: [jobs[1]] }, context())).toEqual({ kind: 'cancel', jobIds: ['2'], summary: 'Cancelling your job.' });
  });

  it('cancels one named job only when it is the user\'s and still live', () => {
    expect(cancel({ jobs, jobId: '2' }, context())).toEqual({ kind: 'cancel', jobIds: ['2'], summary: 'Cancelling your job.' });
    for (const jobId of ['3', '4', '5', 'nope']) {
      expect(cancel({ jobs, jobId }, context())).toEqual({ kind: 'message', ephemeral: true, code: 'not-found', message: 'That job is not yours, or it has already finished.' });
    }
  });

  it('says when there is nothing to cancel', () => {
    expect(cancel({ jobs: [jobs[2], jobs[3]] }, context())).toEqual({ kind: 'message', ephemeral: true, code: 'nothing-to-cancel', message: 'You have no queued or running jobs.' });
  });
});
