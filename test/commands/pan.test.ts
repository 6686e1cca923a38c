/** Pan and the edit canvas: it grows by half towards the pan, and stays a size the model draws (past the pixel budget, from an upscaled image). */
import { describe, expect, it } from 'vitest';
import { zoomOut } from '../../commands/zoom-out.ts';
import { pan } from '../../commands/pan.ts';
import { editCanvasSize } from '../../commands/edit-canvas.ts';
import { context, storedResult, TINY } from '../support/command-context.ts';
import { job } from '../support/command-outcome.ts';

const single = () => storedResult({ imageCount: 1 });

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
