import { describe, expect, it } from 'vitest';
import { parseAspect, snapSize } from '../../commands/aspect.ts';
import { SD_DEFAULTS } from '../../src/models.ts';
import { sdxlFamily } from '../../worker/diffusion/families/sdxl.ts';

const SD21 = { baseSize: 768, sizeMultiple: 64 };
const TINY = { baseSize: 64, sizeMultiple: 32 };
// SDXL's family defaults: ~1 MP in multiples of 64, its training buckets (1344x768, 1536x640, ...)
const SDXL = { baseSize: sdxlFamily.defaults.baseSize, sizeMultiple: sdxlFamily.defaults.sizeMultiple };

describe('--ar size snapping', () => {
  it.each([
    [SD_DEFAULTS, 1, 1, 512, 512],
    [SD_DEFAULTS, 16, 9, 704, 384],
    [SD_DEFAULTS, 9, 16, 384, 704],
    [SD_DEFAULTS, 3, 2, 576, 384],
    [SD_DEFAULTS, 2, 3, 384, 576],
    [SD_DEFAULTS, 4, 3, 576, 448],
    [SD_DEFAULTS, 21, 9, 768, 320],
    [SD_DEFAULTS, 4, 1, 1024, 256],
    [SD21, 1, 1, 768, 768],
    [SD21, 16, 9, 1024, 576],
    [TINY, 1, 1, 64, 64],
    [TINY, 3, 2, 96, 64],
    [TINY, 2, 3, 64, 96],
    [TINY, 16, 9, 96, 64],
    [TINY, 4, 1, 128, 32],
    [SDXL, 1, 1, 1024, 1024],
    [SDXL, 16, 9, 1344, 768],
    [SDXL, 9, 16, 768, 1344],
    [SDXL, 3, 2, 1280, 832],
    [SDXL, 4, 3, 1216, 896],
    [SDXL, 21, 9, 1536, 640],
  ])('%o %i:%i -> %ix%i', (model, w, h, width, height) => {
    expect(snapSize(w, h, model)).toEqual({ width, height });
  });

  it('every accepted ratio gives multiples of the model size, near its budget, never flipped', () => {
    for (const model of [SD_DEFAULTS, SD21, TINY, SDXL]) {
      for (let w = 1; w <= 16; w++) {
        for (let h = 1; h <= 16; h++) {
          if (!parseAspect(`${w}:${h}`).ok) continue;
          const size = snapSize(w, h, model);
          const budget = model.baseSize ** 2;
          expect(size.width % model.sizeMultiple).toBe(0);
          expect(size.height % model.sizeMultiple).toBe(0);
          expect(size.width * size.height).toBeLessThanOrEqual(1.5 * budget);
          expect(size.width * size.height).toBeGreaterThanOrEqual(0.5 * budget);
          // Nearly square ratios (15:16) may snap to square, but never flip orientation.
          if (w === h) expect(size.width).toBe(size.height);
          if (w > h) expect(size.width).toBeGreaterThanOrEqual(size.height);
          if (w < h) expect(size.width).toBeLessThanOrEqual(size.height);
          expect(snapSize(h, w, model)).toEqual({ width: size.height, height: size.width });
        }
      }
    }
  });

  it('parses W:H and refuses the rest', () => {
    expect(parseAspect('16:9')).toEqual({ ok: true, w: 16, h: 9 });
    expect(parseAspect(' ３：２ ')).toEqual({ ok: true, w: 3, h: 2 });
    expect(parseAspect('4:1')).toEqual({ ok: true, w: 4, h: 1 });
    expect(parseAspect('9:2')).toMatchObject({ ok: false, code: 'out-of-range' });
    for (const bad of ['', '16', '16:', ':9', '16/9', '-16:9', '16:9:1', '1e2:1', '0:0', '1234567:1']) expect(parseAspect(bad)).toMatchObject({ ok: false, code: 'bad-aspect' });
  });
});
