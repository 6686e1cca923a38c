/** What Variation, Upscale and Reseed check alike before they act: an expired result, who may press under each press policy, a model no longer configured. */
import { describe, expect, it } from 'vitest';
import { variation } from '../../commands/variation.ts';
import { upscale } from '../../commands/upscale.ts';
import { reseed } from '../../commands/reseed.ts';
import { context, origin, storedResult } from '../support/command-context.ts';

const stored = storedResult();

describe('checks every result button shares', () => {
  const buttons = {
    variation: (result: typeof stored | null, index: number, ctx = context()) => variation({ result, index, mode: 'strong' }, ctx),
    upscale: (result: typeof stored | null, index: number, ctx = context()) => upscale({ result, index }, ctx),
    reseed: (result: typeof stored | null, _index: number, ctx = context()) => reseed({ result }, ctx),
  };

  it.each(Object.entries(buttons))('%s: an expired result', (_, press) => {
    expect(press(null, 0)).toEqual({ kind: 'message', ephemeral: true, code: 'expired', message: 'This result has expired; run /imagine again to make new images.' });
  });

  it.each(Object.entries(buttons))('%s: someone else under the requester policy', (_, press) => {
    const out = press(stored, 0, context({ origin: { userId: 'u2' } }));
    expect(out).toEqual({ kind: 'message', ephemeral: true, code: 'not-allowed', message: 'Only the person who asked for this image can use these buttons.' });
  });

  it.each(Object.entries(buttons))('%s: someone else under the anyone policy', (_, press) => {
    expect(press(stored, 0, context({ env: { PRESS_POLICY: 'anyone' }, origin: { userId: 'u2' } })).kind).toBe('job');
  });

  it.each(Object.entries(buttons))('%s: a role holder under a roles policy', (_, press) => {
    const env = { PRESS_POLICY: 'roles:900,901' };
    expect(press(stored, 0, context({ env, origin: { userId: 'u2', platformData: { roleIds: ['5', '901'] } } })).kind).toBe('job');
    expect(press(stored, 0, context({ env, origin: { userId: 'u2', platformData: { roleIds: ['5'] } } }))).toMatchObject({ code: 'not-allowed', message: expect.stringContaining('allowed role') });
  });

  it.each(Object.entries(buttons))('%s: a model that is no longer configured', (_, press) => {
    const gone = storedResult({ params: { ...stored.params, model: 'sd21' } });
    expect(press(gone, 0)).toEqual({ kind: 'message', ephemeral: true, code: 'unknown-model', message: 'The model sd21 that made this image is no longer available here.' });
  });

  it.each([
    [4, 'There is no image 5 here; this result has images 1 to 4.'],
    [-1, 'There is no image 0 here; this result has images 1 to 4.'],
    [1.5, 'There is no image 1.5 here; this result has images 1 to 4.'],
  ])('an image index %s out of range', (index, message) => {
    for (const press of [buttons.variation, buttons.upscale]) expect(press(stored, index)).toEqual({ kind: 'message', ephemeral: true, code: 'index-out-of-range', message });
    expect(buttons.upscale(storedResult({ imageCount: 1 }), 1)).toMatchObject({ message: 'There is no image 2 here; this result has 1 image.' });
  });
});
