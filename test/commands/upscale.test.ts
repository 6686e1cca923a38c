/** Upscale (U1..U4 on a result): the job it builds from the image pressed. */
import { describe, expect, it } from 'vitest';
import { upscale } from '../../commands/upscale.ts';
import { context, NOW, origin, SOURCE_PARAMS, storedResult } from '../support/command-context.ts';

const stored = storedResult();

const presser = origin();

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
