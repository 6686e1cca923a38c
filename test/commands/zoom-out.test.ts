/** Zoom Out and Custom Zoom: the edit job built from a stored image (size, prompt, settings, a fresh seed, the factor), and what they refuse. */
import { describe, expect, it } from 'vitest';
import { zoomOut } from '../../commands/zoom-out.ts';
import { context, seeds, storedResult } from '../support/command-context.ts';
import { job, refused } from '../support/command-outcome.ts';

const single = () => storedResult({ imageCount: 1 });

describe('zoom out', () => {
  it('keeps the size, prompt and settings, with a fresh seed, and records the factor', () => {
    const out = job(zoomOut({ result: single(), index: 0, factor: 2 }, context({ randomSeed: seeds(555) })));
    expect(out.payload).toMatchObject({
      kind: 'edit',
      edit: { type: 'zoom', factor: 2 },
      source: { resultId: 'res-1', index: 0 },
      parentResultId: 'res-1',
      params: { prompt: 'a lighthouse at dusk', negativePrompt: 'fog', width: 512, height: 512, n: 1, seed: 555, steps: 30 },
    });
    expect(out.summary).toMatch(/^Zoom out 2x of image 1 · 512x512/);
  });

  it('Custom Zoom takes 1 to 2, as a number or text, and refuses the rest', () => {
    expect(job(zoomOut({ result: single(), index: 0, factor: '1.25' }, context())).payload).toMatchObject({ edit: { type: 'zoom', factor: 1.25 } });
    expect(refused(zoomOut({ result: single(), index: 0, factor: '2.5' }, context()))).toBe('Zoom must be from 1 to 2.');
    expect(refused(zoomOut({ result: single(), index: 0, factor: 'lots' }, context()))).toBe('Zoom needs a number from 1 to 2, e.g. 1.5.');
  });

  it('answers an expired result and a missing image like the other buttons', () => {
    expect(refused(zoomOut({ result: null, index: 0, factor: 2 }, context()))).toMatch(/expired/);
    expect(refused(zoomOut({ result: single(), index: 3, factor: 2 }, context()))).toMatch(/There is no image 4/);
  });
});
