/** Job failures: which are permanent (no retry), and the notice the requester reads for each. */
import { describe, expect, it } from 'vitest';
import { PermanentDeliveryError } from '../../src/delivery.ts';
import { NoDelivererError } from '../../src/deliverer-registry.ts';
import { InvalidJobError } from '../../src/jobs.ts';
import { failureNotice, isPermanentJobError, JobCancelledError, JobTimeoutError, ModelLoadError, SourceUnavailableError } from '../../worker/errors.ts';

describe('isPermanentJobError', () => {
  it('marks what another attempt cannot fix as permanent, and leaves the rest to retries', () => {
    const permanent = [new InvalidJobError('x', 'y'), new JobCancelledError(), new JobTimeoutError(5), new SourceUnavailableError('gone', 'r1'), new PermanentDeliveryError('Unknown Channel', 404)];
    const retryable = [new Error('ECONNRESET'), new ModelLoadError('m', new Error('x')), new NoDelivererError('slack', ['discord'])];
    expect(permanent.map(isPermanentJobError)).toEqual([true, true, true, true, true]);
    expect(retryable.map(isPermanentJobError)).toEqual([false, false, false]);
  });
});

describe('failureNotice', () => {
  it('says cancelled, explains timeouts and broken models without internals, and offers Retry only where it can help', () => {
    expect(failureNotice(new JobCancelledError())).toEqual({ message: 'Cancelled.', retry: false, cancelled: true });
    expect(failureNotice(new InvalidJobError('This request is malformed and cannot be run. Please send it again.', 'params.steps: too big'))).toEqual({
      message: 'This request is malformed and cannot be run. Please send it again.',
      retry: false,
    });
    expect(failureNotice(new JobTimeoutError(600)).message).toBe('This took longer than the 10 min limit and was stopped. Try fewer steps, a smaller size or fewer images.');
    const broken = failureNotice(new ModelLoadError('tiny', new Error('model folder /srv/models/tiny: missing unet/model.onnx')));
    expect(broken).toEqual({ message: 'The model "tiny" is not available right now (it failed to load on the worker). Try again later or pick another model.', retry: true });
    expect(failureNotice(new Error('job stalled more than allowable limit')).retry).toBe(true);
    expect(failureNotice(new Error('job stalled more than allowable limit')).message).toContain('stopped the image worker twice');
    expect(failureNotice(new Error('ORT: CUDA out of memory at /home/x'))).toEqual({ message: 'Something went wrong while making this image. You can retry it.', retry: true });
  });
});
