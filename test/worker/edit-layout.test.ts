/** Where an edit puts its source on the canvas, and the two PNGs (canvas, mask) the pipeline gets. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { keptRect, regionCanvas, zoomOrPanCanvas } from '../../worker/edit-layout.ts';

const raw = async (png: Buffer) => {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
};

describe('edit layout', () => {
  it('zoom centres the shrunk source; pans put it against the side opposite the pan', () => {
    const src = { width: 64, height: 64 };
    expect(keptRect({ type: 'zoom', factor: 1.5 }, src, 64, 64)).toEqual({ left: 10, top: 10, width: 43, height: 43 });
    expect(keptRect({ type: 'zoom', factor: 1 }, src, 64, 64)).toEqual({ left: 0, top: 0, width: 64, height: 64 });
    expect(keptRect({ type: 'pan', direction: 'right' }, src, 96, 64)).toEqual({ left: 0, top: 0, width: 64, height: 64 });
    expect(keptRect({ type: 'pan', direction: 'left' }, src, 96, 64)).toEqual({ left: 32, top: 0, width: 64, height: 64 });
    expect(keptRect({ type: 'pan', direction: 'down' }, src, 64, 96)).toEqual({ left: 0, top: 0, width: 64, height: 64 });
    expect(keptRect({ type: 'pan', direction: 'up' }, src, 64, 96)).toEqual({ left: 0, top: 32, width: 64, height: 64 });
    // a canvas scaled to the pixel budget (96x64 panned left on the embedded model: 128x32): the source keeps its shape
    expect(keptRect({ type: 'pan', direction: 'left' }, { width: 96, height: 64 }, 128, 32)).toEqual({ left: 80, top: 0, width: 48, height: 32 });
    // never the whole canvas: a pan always draws a strip
    expect(keptRect({ type: 'pan', direction: 'right' }, { width: 200, height: 50 }, 96, 64).width).toBe(88);
  });

  it('the canvas holds the source in place, its edge repeated outward; the mask is white outside it', async () => {
    const source = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
    const { image, mask } = await zoomOrPanCanvas({ type: 'pan', direction: 'left' }, source, { width: 64, height: 64 }, 96, 64);
    const img = await raw(image);
    const m = await raw(mask);
    expect([img.width, img.height, m.width, m.height]).toEqual([96, 64, 96, 64]);
    for (const x of [0, 31, 32, 95]) {
      expect(m.data[(10 * 96 + x) * m.channels]).toBe(x < 32 ? 255 : 0);
      expect([...img.data.subarray((10 * 96 + x) * img.channels, (10 * 96 + x) * img.channels + 3)]).toEqual([200, 30, 30]);
    }
  });

  it('a region mask of any size is resized to the canvas', async () => {
    const source = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'blue' } }).png().toBuffer();
    const drawn = await sharp({ create: { width: 200, height: 200, channels: 3, background: 'black' } })
      .composite([{ input: { create: { width: 100, height: 100, channels: 3, background: 'white' } }, left: 0, top: 0 }])
      .png()
      .toBuffer();
    const { mask } = await regionCanvas(source, drawn, 64, 64);
    const m = await raw(mask);
    expect([m.width, m.height]).toEqual([64, 64]);
    expect(m.data[5 * 64 * m.channels + 5 * m.channels]).toBe(255);
    expect(m.data[50 * 64 * m.channels + 50 * m.channels]).toBe(0);
  });
});
