/** Retry: a failed job's payload enqueued again as it was, answered where Retry was pressed. */
import { describe, expect, it } from 'vitest';
import { retry } from '../../commands/retry.ts';
import type { JobPayload } from '../../src/jobs.ts';
import { context, failedPayload, NOW, origin } from '../support/command-context.ts';

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
