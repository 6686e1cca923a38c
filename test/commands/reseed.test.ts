/** Reseed (the re-roll button): the same request again under new seeds. */
import { describe, expect, it } from 'vitest';
import { reseed } from '../../commands/reseed.ts';
import { context, NOW, origin, seeds, SOURCE_PARAMS, storedResult } from '../support/command-context.ts';

const stored = storedResult();

const presser = origin();

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
