/** The commands behind a result's buttons: variation, upscale, reseed, delete. */
import { describe, expect, it } from 'vitest';
import { variation } from '../commands/variation.ts';
import { upscale } from '../commands/upscale.ts';
import { reseed } from '../commands/reseed.ts';
import { deleteResult } from '../commands/delete.ts';
import { context, NOW, origin, seeds, storedResult } from './support/command-context.ts';

const stored = storedResult();
const presser = origin();
const SOURCE_PARAMS = { prompt: 'a lighthouse at dusk', negativePrompt: 'fog', seed: 100, steps: 30, guidance: 6.5, width: 512, height: 512, n: 4, sampler: 'euler_a', model: 'sd15' };

describe('variation', () => {
  it('strong: img2img of the chosen image at 0.6 with a fresh seed', () => {
    const out = variation({ result: stored, index: 2, mode: 'strong' }, context({ randomSeed: seeds(777) }));
    expect(out).toEqual({
      kind: 'job',
      payload: {
        v: 1,
        kind: 'variation',
        origin: presser,
        params: { ...SOURCE_PARAMS, seed: 777 },
        parentResultId: 'res-1',
        createdAt: NOW,
        source: { resultId: 'res-1', index: 2 },
        mode: 'strong',
        strength: 0.6,
      },
      dedupeId: 'evt-1',
      warnings: [],
      summary: 'Strong variation (strength 0.6) of image 3 · 512x512 · 4 images · seed 777 · 30 steps · euler_a · cfg 6.5 · sd15',
    });
  });

  it('subtle: the image seed, slerped a quarter of the way to a fresh seed', () => {
    const out = variation({ result: stored, index: 1, mode: 'subtle' }, context({ randomSeed: seeds(555) }));
    expect(out.kind === 'job' && out.payload).toEqual({
      v: 1,
      kind: 'variation',
      origin: presser,
      params: { ...SOURCE_PARAMS, seed: 101 },
      parentResultId: 'res-1',
      createdAt: NOW,
      source: { resultId: 'res-1', index: 1 },
      mode: 'subtle',
      strength: 1,
      blendSeed: 555,
      blendAmount: 0.25,
    });
  });

  it('a fresh seed never repeats the source seed', () => {
    const out = variation({ result: stored, index: 0, mode: 'strong' }, context({ randomSeed: seeds(100) }));
    expect(out.kind === 'job' && out.payload.params.seed).toBe(101);
    const wrap = variation({ result: storedResult({ images: [{ ...stored.images[0], seed: 4294967295 }] }), index: 0, mode: 'strong' }, context({ randomSeed: seeds(4294967295) }));
    expect(wrap.kind === 'job' && wrap.payload.params.seed).toBe(0);
  });

  it('takes a strength for strong variations, as number or text', () => {
    const a = variation({ result: stored, index: 0, mode: 'strong', strength: 0.35 }, context());
    const b = variation({ result: stored, index: 0, mode: 'strong', strength: '0.9' }, context());
    expect(a.kind === 'job' && a.payload.kind === 'variation' && a.payload.strength).toBe(0.35);
    expect(b.kind === 'job' && b.payload.kind === 'variation' && b.payload.strength).toBe(0.9);
  });

  it.each([
    [0.01, 'out-of-range', 'Strength must be from 0.05 to 1.'],
    [1.5, 'out-of-range', 'Strength must be from 0.05 to 1.'],
    ['lots', 'bad-number', 'Strength needs a number from 0.05 to 1.'],
  ] as const)('refuses strength %s', (strength, code, message) => {
    expect(variation({ result: stored, index: 0, mode: 'strong', strength }, context())).toEqual({ kind: 'message', ephemeral: true, code, message });
  });

  it('ignores a strength on subtle variations, saying so', () => {
    const out = variation({ result: stored, index: 0, mode: 'subtle', strength: 0.3 }, context());
    expect(out.kind === 'job' && out.warnings.map((w) => w.code)).toEqual(['strength-ignored']);
  });

  it('applies limits lowered since the result was made', () => {
    const out = variation({ result: stored, index: 0, mode: 'strong' }, context({ env: { MAX_STEPS: '20', MAX_N: '2', ALLOWED_SAMPLERS: 'ddim' } }));
    if (out.kind !== 'job') throw new Error(out.kind);
    expect(out.payload.params).toMatchObject({ steps: 20, n: 2, sampler: 'ddim' });
    expect(out.warnings).toEqual([{ code: 'limit-lowered', message: 'Current limits changed steps 30 → 20, n 4 → 2, sampler euler_a → ddim.' }]);
  });

  it("refuses a result whose size its model no longer draws (the worker's check, src/job-limits.ts)", () => {
    const large = storedResult({ params: { ...stored.params, width: 1024, height: 768 } });
    expect(variation({ result: large, index: 0, mode: 'strong' }, context())).toEqual({
      kind: 'message',
      ephemeral: true,
      code: 'out-of-range',
      message: 'The size 1024x768 is larger than the model sd15 draws (at most 393216 pixels, e.g. 512x512).',
    });
  });
});

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

describe('upscale', () => {
  it('upscales one image ×2 with its own seed', () => {
    expect(upscale({ result: stored, index: 3 }, context())).toEqual({
      kind: 'job',
      payload: {
        v: 1,
        kind: 'upscale',
        origin: presser,
        params: { ...SOURCE_PARAMS, n: 1, seed: 103 },
        parentResultId: 'res-1',
        createdAt: NOW,
        source: { resultId: 'res-1', index: 3 },
        factor: 2,
      },
      dedupeId: 'evt-1',
      warnings: [],
      summary: 'Upscale ×2 of image 4 · 1024x1024',
    });
  });

  it('takes factor 4, refuses other factors, an upscaled image, and sides past 4096', () => {
    const four = upscale({ result: stored, index: 0, factor: 4 }, context());
    expect(four.kind === 'job' && four.payload.kind === 'upscale' && four.payload.factor).toBe(4);
    expect(upscale({ result: stored, index: 0, factor: 3 }, context())).toMatchObject({ code: 'out-of-range', message: 'Upscale factor must be 2 or 4.' });
    expect(upscale({ result: storedResult({ kind: 'upscale', imageCount: 1 }), index: 0 }, context())).toMatchObject({ code: 'already-upscaled', message: 'This image is already upscaled.' });
    const big = storedResult({ images: [{ ...stored.images[0], width: 1536, height: 1024 }] });
    expect(upscale({ result: big, index: 0, factor: 4 }, context())).toMatchObject({ code: 'out-of-range', message: 'This image (1536x1024) is too large to upscale ×4 (sides are limited to 4096 px).' });
  });
});

describe('reseed', () => {
  it('is the same request as txt2img with a new seed', () => {
    expect(reseed({ result: stored }, context({ randomSeed: seeds(9) }))).toEqual({
      kind: 'job',
      payload: { v: 1, kind: 'txt2img', origin: presser, params: { ...SOURCE_PARAMS, seed: 9 }, parentResultId: 'res-1', createdAt: NOW },
      dedupeId: 'evt-1',
      warnings: [],
      summary: 'New seed · 512x512 · 4 images · seed 9 · 30 steps · euler_a · cfg 6.5 · sd15',
    });
  });

  it('never reuses the old seed', () => {
    const out = reseed({ result: stored }, context({ randomSeed: seeds(100) }));
    expect(out.kind === 'job' && out.payload.params.seed).toBe(101);
  });
});

describe('delete (✖ on a result)', () => {
  it('lets the requester remove it', () => {
    expect(deleteResult({ result: stored }, context())).toEqual({ kind: 'delete', resultId: 'res-1', messageId: 'msg-0', summary: 'Removed.' });
  });

  it('does not let "anyone" delete other people\'s images, but lets listed roles', () => {
    expect(deleteResult({ result: stored }, context({ env: { PRESS_POLICY: 'anyone' }, origin: { userId: 'u2' } }))).toEqual({
      kind: 'message',
      ephemeral: true,
      code: 'not-allowed',
      message: 'Only the person who asked for this image can remove it.',
    });
    expect(deleteResult({ result: stored }, context({ env: { PRESS_POLICY: 'roles:77' }, origin: { userId: 'mod', platformData: { roleIds: ['77'] } } })).kind).toBe('delete');
  });

  it('says when the result has expired', () => {
    expect(deleteResult({ result: null }, context())).toMatchObject({ code: 'expired' });
  });
});
