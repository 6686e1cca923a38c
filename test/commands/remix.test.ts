/** Remix: an edited prompt drives a zoom, a pan or a variation, checked like /imagine's. */
import { describe, expect, it } from 'vitest';
import { zoomOut } from '../../commands/zoom-out.ts';
import { pan } from '../../commands/pan.ts';
import { variation } from '../../commands/variation.ts';
import { context, storedResult } from '../support/command-context.ts';
import { job, refused } from '../support/command-outcome.ts';

const single = () => storedResult({ imageCount: 1 });

describe('remix', () => {
  it('an edited prompt drives a zoom, a pan or a variation, and is recorded', () => {
    const z = job(zoomOut({ result: single(), index: 0, factor: 2, prompt: 'a lighthouse in a storm' }, context()));
    expect(z.payload.params).toMatchObject({ prompt: 'a lighthouse in a storm', negativePrompt: 'fog' });
    expect(z.summary).toMatch(/^Zoom out 2x \(remix\)/);
    expect(job(pan({ result: single(), index: 0, direction: 'down', prompt: 'a lighthouse --no people' }, context())).payload.params).toMatchObject({
      prompt: 'a lighthouse',
      negativePrompt: 'people',
    });
    const v = job(variation({ result: single(), index: 0, mode: 'strong', prompt: 'a lighthouse at dawn' }, context()));
    expect(v.payload).toMatchObject({ kind: 'variation', params: { prompt: 'a lighthouse at dawn' } });
    expect(v.summary).toMatch(/\(remix\)/);
  });

  it("checks the prompt like /imagine's and says which flags a remix does not take", () => {
    expect(refused(variation({ result: single(), index: 0, mode: 'strong', prompt: '   ' }, context()))).toMatch(/Nothing to draw yet/);
    expect(refused(zoomOut({ result: single(), index: 0, factor: 2, prompt: 'a cat --steps banana' }, context()))).toMatch(/steps/);
    const out = job(zoomOut({ result: single(), index: 0, factor: 2, prompt: 'a cat --ar 16:9 --seed 4' }, context()));
    expect(out.payload.params).toMatchObject({ prompt: 'a cat', width: 512, height: 512 });
    expect(out.warnings).toContainEqual({ code: 'flags-ignored', message: "A remix keeps the image's own settings, so --ar, --seed were ignored." });
  });
});
