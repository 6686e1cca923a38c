/** Variation (V1..V4 on a result): the job it builds from the stored result and the image pressed. */
import { describe, expect, it } from 'vitest';
import { variation } from '../../commands/variation.ts';
import { context, NOW, origin, seeds, SOURCE_PARAMS, storedResult } from '../support/command-context.ts';

const stored = storedResult();

const presser = origin();

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
