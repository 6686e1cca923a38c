/** Commands on jobs rather than results: retry, cancel; and help. */
import { describe, expect, it } from 'vitest';
import { retry } from '../../commands/retry.ts';
import { cancel } from '../../commands/cancel.ts';
import { help, helpText } from '../../commands/help.ts';
import { imagine } from '../../commands/imagine.ts';
import { OPTION_DOCS } from '../../commands/options-schema.ts';
import type { JobPayload } from '../../src/jobs.ts';
import type { JobSummary } from '../../src/queue/types.ts';
import { context, NOW, origin } from '../support/command-context.ts';

function failedPayload(userId = 'u1'): JobPayload {
  const out = imagine({ text: 'a red fox --seed 11 --n 2' }, context({ origin: { userId, eventId: 'evt-0', messageId: 'msg-0' } }));
  if (out.kind !== 'job') throw new Error(out.kind);
  return { ...out.payload, createdAt: NOW - 5000 };
}

describe('retry', () => {
  it('re-enqueues the failed payload as it was, answered where Retry was pressed', () => {
    const failed = failedPayload();
    const ctx = context({ origin: { messageId: 'msg-fail' } });
    expect(retry({ failed }, ctx)).toEqual({
      kind: 'job',
      payload: { ...failed, origin: origin({ messageId: 'msg-fail' }), createdAt: NOW },
      dedupeId: 'evt-1',
      warnings: [],
      summary: 'Retry · 512x512 · 2 images · seed 11 · 25 steps · dpmpp_2m · cfg 7 · sd15',
    });
  });

  it('refuses an expired job, someone else\'s job, a gone model and a payload from another version', () => {
    expect(retry({ failed: null }, context())).toEqual({ kind: 'message', ephemeral: true, code: 'expired', message: 'That request is no longer stored; run /imagine again.' });
    expect(retry({ failed: failedPayload('u9') }, context())).toMatchObject({ code: 'not-allowed' });
    const gone = { ...failedPayload(), params: { ...failedPayload().params, model: 'sd21' } };
    expect(retry({ failed: gone }, context())).toMatchObject({ code: 'unknown-model', message: 'The model sd21 is no longer available here.' });
    const old = { ...failedPayload(), v: 0 } as unknown as JobPayload;
    expect(retry({ failed: old }, context())).toMatchObject({ code: 'not-retryable', message: 'That request can no longer be run as it was; run /imagine again.' });
  });

  it('refuses a payload past today\'s limits in the words the worker would use (src/job-limits.ts), so it is never enqueued', () => {
    const failed = failedPayload();
    const tooMany = { ...failed, params: { ...failed.params, steps: 500 } };
    expect(retry({ failed: tooMany }, context())).toEqual({ kind: 'message', ephemeral: true, code: 'out-of-range', message: 'This request asks for 500 steps; the most allowed here is 50.' });
    const huge = { ...failed, params: { ...failed.params, width: 1024, height: 1024 } };
    expect(retry({ failed: huge }, context())).toMatchObject({ code: 'out-of-range', message: 'The size 1024x1024 is larger than the model sd15 draws (at most 393216 pixels, e.g. 512x512).' });
    expect(retry({ failed }, context({ env: { MAX_N: '1' } }))).toMatchObject({ code: 'out-of-range', message: 'This request asks for 2 images; the most allowed here is 1.' });
  });
});

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

describe('help', () => {
  it('lists every flag with this installation\'s limits, the precedence rule, buttons and models', () => {
    const text = helpText(context({ env: { MAX_STEPS: '30', ALLOWED_SAMPLERS: 'euler,ddim' } }));
    for (const doc of Object.values(OPTION_DOCS)) expect(text).toContain(`\`--${doc.flag} ${doc.value}\``);
    expect(text).toContain('`--cfg X` or `--guidance`');
    expect(text).toContain('Range: 1–30. Default:');
    expect(text).toContain('Range: euler, ddim.');
    expect(text).toContain('Options filled in the command’s own fields win over the same flag typed in the prompt.');
    expect(text).toContain('U1–U4 Upscale that image ×2');
    expect(text).toContain('Models: sd15 (default), tiny.');
    expect(text).not.toContain('MAX_STEPS');
    expect(help(context())).toEqual({ kind: 'message', ephemeral: true, code: 'help', message: helpText(context()) });
  });
});
