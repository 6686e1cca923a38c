/** Zoom Out, Pan, Vary (Region) and Remix: the edit jobs the commands build from a stored result. */
import { describe, expect, it } from 'vitest';
import { zoomOut } from '../../commands/zoom-out.ts';
import { pan } from '../../commands/pan.ts';
import { varyRegion } from '../../commands/vary-region.ts';
import { variation } from '../../commands/variation.ts';
import { decideAction } from '../../commands/result-action.ts';
import { editCanvasSize } from '../../commands/edit-canvas.ts';
import type { CommandOutcome } from '../../commands/context.ts';
import { context, seeds, storedResult, TINY } from '../support/command-context.ts';

const single = () => storedResult({ imageCount: 1 });
const job = (o: CommandOutcome) => {
  if (o.kind !== 'job') throw new Error(`expected a job, got ${JSON.stringify(o)}`);
  return o;
};
const refused = (o: CommandOutcome) => (o.kind === 'message' ? o.message : `not refused: ${o.kind}`);

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

describe('pan', () => {
  it('grows the canvas by half towards the pan', () => {
    expect(job(pan({ result: single(), index: 0, direction: 'right' }, context())).payload).toMatchObject({ edit: { type: 'pan', direction: 'right' }, params: { width: 768, height: 512 } });
    expect(job(pan({ result: single(), index: 0, direction: 'up' }, context())).payload.params).toMatchObject({ width: 512, height: 768 });
  });

  it('scales a canvas past the pixel budget to the nearest size of that shape the model draws', () => {
    // 768x512 panned right again would be 1152x512 (589,824 px > 1.5 × 512²): the 9:4 shape snaps to the budget
    const wide = editCanvasSize({ type: 'pan', direction: 'right' }, { width: 768, height: 512 }, { baseSize: 512, sizeMultiple: 64 });
    expect(wide.width * wide.height).toBeLessThanOrEqual(1.5 * 512 * 512);
    expect([wide.width % 64, wide.height % 64]).toEqual([0, 0]);
    expect(wide.width / wide.height).toBeGreaterThan(2);
    // the embedded model: 64x64 -> 96x64 fits; 96x64 -> 144x64 does not
    expect(editCanvasSize({ type: 'pan', direction: 'left' }, { width: 64, height: 64 }, TINY)).toEqual({ width: 96, height: 64 });
    const again = editCanvasSize({ type: 'pan', direction: 'left' }, { width: 96, height: 64 }, TINY);
    expect(again.width * again.height).toBeLessThanOrEqual(1.5 * 64 * 64);
    expect(again.width).toBeGreaterThan(again.height);
  });

  it('an upscaled 1024x1024 image zooms out on a canvas its model can draw', () => {
    const up = storedResult({ imageCount: 1, kind: 'upscale', images: [{ artifact: { key: 'res-1/0.png', bytes: 1, contentType: 'image/png' }, seed: 100, width: 1024, height: 1024 }] });
    expect(job(zoomOut({ result: up, index: 0, factor: 1.5 }, context())).payload.params).toMatchObject({ width: 512, height: 512 });
  });
});

describe('vary region', () => {
  it('names the mask and keeps the size', () => {
    expect(job(varyRegion({ result: single(), index: 0, maskArtifactKey: 'uploads/m1.png' }, context())).payload).toMatchObject({
      kind: 'edit',
      edit: { type: 'region', maskArtifactKey: 'uploads/m1.png' },
      params: { width: 512, height: 512 },
    });
  });
});

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

describe('edit button presses', () => {
  it('zoom and pan presses start their jobs; the buttons that open a form are refused until a form answers them', () => {
    const result = single();
    expect(job(decideAction({ action: 'zoom-1.5', resultId: 'res-1', index: 0 }, { result }, context())).payload).toMatchObject({ edit: { type: 'zoom', factor: 1.5 } });
    expect(job(decideAction({ action: 'pan-left', resultId: 'res-1', index: 0 }, { result }, context())).payload).toMatchObject({ edit: { type: 'pan', direction: 'left' }, params: { width: 768 } });
    for (const action of ['zoom-custom', 'vary-region', 'remix'] as const) {
      expect(decideAction({ action, resultId: 'res-1', index: 0 }, { result }, context())).toMatchObject({ kind: 'message', code: 'not-available' });
    }
  });
});
