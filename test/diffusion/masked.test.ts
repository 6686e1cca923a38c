/**
 * Masked generation on the embedded models (models/tiny, and models/tiny-xl in SDXL's layout) through the product's pipeline and the
 * worker's edit layout: Zoom Out draws a border of the scene's background around the shrunk
 * image, Pan draws a strip of background beside it, Vary (Region) repaints the area over the
 * shape in the colour the new prompt asks for, and in every case the pixels farther than the
 * feather from the drawn area are the source's bytes.
 *
 * Colours are classified by the nearest palette colour (test/support/tiny-model-check.ts, the
 * rule the model's own accuracy figures use): a pixel is "blue" when blue is its nearest colour.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline, type GenerateRequest, type Pipeline } from '../../worker/diffusion/index.ts';
import { readPngParameters } from '../../worker/diffusion/images.ts';
import { SCHEDULER_NAMES } from '../../worker/diffusion/schedulers/table.ts';
import { featherRadius } from '../../worker/diffusion/masked.ts';
import { keptRect, regionCanvas, zoomOrPanCanvas, type Rect } from '../../worker/edit-layout.ts';
import { OUTPAINT_STRENGTH } from '../../worker/job-plan.ts';
import { COLOR_NAMES, HELD_OUT_REQUEST, TINY_MODEL_DIR, TINY_XL_MODEL_DIR, decodeRgb, nearestNames, type RgbImage } from '../support/tiny-model-check.ts';

const SOURCE: GenerateRequest = { ...HELD_OUT_REQUEST, prompt: 'a red circle on a blue background' };
const SEEDS = [2, 3, 4, 5, 6, 7, 8, 9];

/**
 * Of the 8 seeds, how many must pass each colour rule (the exactness rules hold on every seed).
 * These models draw one shape per picture and sometimes put a second one in the new area, or
 * (tiny-xl) an orange one where yellow was asked. Measured:
 *   tiny:    zoom border >= 0.9 blue 8/8, pan strip >= 0.9 blue 6/8, region shape >= 0.85 yellow 8/8
 *   tiny-xl: zoom 7/8 (lowest 0.896), pan 7/8, region 5/8 (orange on seeds 2, 3)
 */
const MODELS = [
  { name: 'tiny', dir: TINY_MODEL_DIR, zoom: 8, pan: 6, region: 8 },
  { name: 'tiny-xl', dir: TINY_XL_MODEL_DIR, zoom: 7, pan: 7, region: 5 },
];

const inside = (r: Rect, x: number, y: number, grow = 0) => x >= r.left - grow && x < r.left + r.width + grow && y >= r.top - grow && y < r.top + r.height + grow;

/** Share of the pixels `which` selects whose nearest palette colour is `color`. */
function share(img: RgbImage, color: string, which: (x: number, y: number) => boolean): number {
  const names = nearestNames(img);
  const k = COLOR_NAMES.indexOf(color);
  let all = 0;
  let hits = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (!which(x, y)) continue;
      all++;
      if (names[y * img.width + x] === k) hits++;
    }
  }
  return hits / all;
}

/** Largest channel difference between `img` at (x, y) and `ref` at (x - dx, y - dy), over the selected pixels. */
function maxDifference(img: RgbImage, ref: RgbImage, which: (x: number, y: number) => boolean, dx = 0, dy = 0): number {
  let most = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (!which(x, y)) continue;
      for (let c = 0; c < 3; c++) most = Math.max(most, Math.abs(img.data[(y * img.width + x) * 3 + c] - ref.data[((y - dy) * ref.width + (x - dx)) * 3 + c]));
    }
  }
  return most;
}

describe.each(MODELS)('masked generation on the embedded model $name', (model) => {
  let pipeline: Pipeline;
  let source: Buffer;
  let sourceRgb: RgbImage;
  beforeAll(async () => {
    pipeline = await loadPipeline(model.dir, { providers: ['cpu'], maxBatch: 8 });
    source = (await pipeline.generate(SOURCE)).images[0].png;
    sourceRgb = await decodeRgb(source);
  }, 60_000);
  afterAll(() => pipeline?.dispose());

  it('the source is a red circle on blue', () => {
    expect(share(sourceRgb, 'blue', () => true)).toBeGreaterThan(0.7);
    expect(share(sourceRgb, 'red', () => true)).toBeGreaterThan(0.05);
  });

  it('Zoom Out 2x fills the new border with the blue background and keeps the shrunk source in the centre', async () => {
    const edit = { type: 'zoom', factor: 2 } as const;
    const rect = keptRect(edit, sourceRgb, 64, 64);
    expect(rect).toEqual({ left: 16, top: 16, width: 32, height: 32 });
    expect(sourceRgb.width).toBe(64);
    const feather = featherRadius(64, 64);
    const canvas = await zoomOrPanCanvas(edit, source, sourceRgb, 64, 64);
    const shrunk = await decodeRgb(await sharp(source).resize(32, 32, { fit: 'fill', kernel: 'lanczos3' }).png().toBuffer());
    const figures: string[] = [];
    let blueBorders = 0;
    for (const seed of SEEDS) {
      const result = await pipeline.generate({ ...SOURCE, seed, inpaint: { ...canvas, strength: OUTPAINT_STRENGTH, label: 'Zoom out 2x' } });
      const img = await decodeRgb(result.images[0].png);
      const border = share(img, 'blue', (x, y) => !inside(rect, x, y, feather));
      const centre = maxDifference(img, shrunk, (x, y) => inside(rect, x, y, -feather), rect.left, rect.top);
      figures.push(`seed ${seed}: border ${border.toFixed(3)} blue, centre max diff ${centre}`);
      if (border >= 0.9) blueBorders++;
      expect(centre, figures.at(-1)).toBeLessThanOrEqual(2);
      expect(readPngParameters(result.images[0].png)).toMatchObject({ edit: 'Zoom out 2x', denoisingStrength: OUTPAINT_STRENGTH, seed });
    }
    console.log(`${model.name} zoom out 2x:\n  ${figures.join('\n  ')}`);
    expect(blueBorders, figures.join('; ')).toBeGreaterThanOrEqual(model.zoom);
  }, 120_000);

  it('Pan right widens 64x64 to 96x64 with a strip of blue background and the source unchanged on the left', async () => {
    const edit = { type: 'pan', direction: 'right' } as const;
    const rect = keptRect(edit, sourceRgb, 96, 64);
    expect(rect).toEqual({ left: 0, top: 0, width: 64, height: 64 });
    const feather = featherRadius(96, 64);
    const canvas = await zoomOrPanCanvas(edit, source, sourceRgb, 96, 64);
    const figures: string[] = [];
    let blueStrips = 0;
    for (const seed of SEEDS) {
      const result = await pipeline.generate({ ...SOURCE, seed, width: 96, inpaint: { ...canvas, strength: OUTPAINT_STRENGTH, label: 'Pan right' } });
      const img = await decodeRgb(result.images[0].png);
      expect([img.width, img.height]).toEqual([96, 64]);
      const strip = share(img, 'blue', (x) => x >= 64 + feather);
      const kept = maxDifference(img, sourceRgb, (x) => x < 64 - feather);
      figures.push(`seed ${seed}: strip ${strip.toFixed(3)} blue, kept max diff ${kept}`);
      if (strip >= 0.9) blueStrips++;
      expect(kept, figures.at(-1)).toBe(0);
    }
    console.log(`${model.name} pan right:\n  ${figures.join('\n  ')}`);
    expect(blueStrips, figures.join('; ')).toBeGreaterThanOrEqual(model.pan);
  }, 120_000);

  it('Vary (Region) over the circle with "a yellow circle on a blue background" makes it yellow and keeps every pixel beyond the feather', async () => {
    const names = nearestNames(sourceRgb);
    const red = COLOR_NAMES.indexOf('red');
    let box = { x0: 64, y0: 64, x1: -1, y1: -1 };
    names.forEach((n, i) => {
      if (n !== red) return;
      const x = i % 64;
      const y = Math.floor(i / 64);
      box = { x0: Math.min(box.x0, x), y0: Math.min(box.y0, y), x1: Math.max(box.x1, x), y1: Math.max(box.y1, y) };
    });
    const pad = 4;
    const rect: Rect = { left: Math.max(0, box.x0 - pad), top: Math.max(0, box.y0 - pad), width: 0, height: 0 };
    rect.width = Math.min(64, box.x1 + pad + 1) - rect.left;
    rect.height = Math.min(64, box.y1 + pad + 1) - rect.top;
    const maskBytes = Buffer.alloc(64 * 64);
    for (let y = rect.top; y < rect.top + rect.height; y++) maskBytes.fill(255, y * 64 + rect.left, y * 64 + rect.left + rect.width);
    // the editor's mask arrives at another size: the layout resizes it to the image
    const mask = await sharp(maskBytes, { raw: { width: 64, height: 64, channels: 1 } }).resize(128, 128, { kernel: 'nearest' }).png().toBuffer();
    const canvas = await regionCanvas(source, mask, 64, 64);
    const feather = featherRadius(64, 64);
    const figures: string[] = [];
    let yellowShapes = 0;
    for (const seed of SEEDS) {
      const result = await pipeline.generate({ ...SOURCE, prompt: 'a yellow circle on a blue background', seed, inpaint: { ...canvas, label: 'Vary (Region)' } });
      const img = await decodeRgb(result.images[0].png);
      const inRegion = (x: number, y: number) => inside(rect, x, y);
      const drawn = nearestNames(img);
      const shape = (x: number, y: number) => inRegion(x, y) && drawn[y * 64 + x] !== COLOR_NAMES.indexOf('blue');
      const yellow = share(img, 'yellow', shape);
      const redLeft = share(img, 'red', inRegion);
      const mean = [0, 1, 2].map((c) => {
        let sum = 0;
        let count = 0;
        for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) if (shape(x, y)) (sum += img.data[(y * 64 + x) * 3 + c]), count++;
        return Math.round(sum / count);
      });
      const outside = maxDifference(img, sourceRgb, (x, y) => !inside(rect, x, y, feather));
      figures.push(`seed ${seed}: shape pixels ${yellow.toFixed(3)} yellow (mean rgb ${mean.join(',')}), red ${redLeft.toFixed(3)}, outside max diff ${outside}`);
      if (yellow >= 0.85) yellowShapes++;
      expect(redLeft, figures.at(-1)).toBe(0);
      expect(outside, figures.at(-1)).toBe(0);
    }
    expect(yellowShapes, figures.join('; ')).toBeGreaterThanOrEqual(model.region);
    console.log(`${model.name} vary region (mask ${rect.width}x${rect.height} at ${rect.left},${rect.top}):\n  ${figures.join('\n  ')}`);
  }, 120_000);

  it.each(SCHEDULER_NAMES)('the %s sampler runs a zoom out, from noise and from the edge, keeping the centre exactly', async (sampler) => {
    const edit = { type: 'zoom', factor: 1.5 } as const;
    const rect = keptRect(edit, sourceRgb, 64, 64);
    const feather = featherRadius(64, 64);
    const canvas = await zoomOrPanCanvas(edit, source, sourceRgb, 64, 64);
    const kept = await decodeRgb(canvas.image);
    for (const strength of [1, OUTPAINT_STRENGTH]) {
      const img = await decodeRgb((await pipeline.generate({ ...SOURCE, sampler, seed: 2, inpaint: { ...canvas, strength } })).images[0].png);
      expect(maxDifference(img, kept, (x, y) => inside(rect, x, y, -feather))).toBe(0);
      expect(share(img, 'blue', (x, y) => !inside(rect, x, y, feather))).toBeGreaterThan(0.5);
    }
  });

  it('refuses a mask of another size than the request', async () => {
    const canvas = await zoomOrPanCanvas({ type: 'zoom', factor: 1.5 }, source, sourceRgb, 64, 64);
    const wrong = await sharp(canvas.mask).resize(32, 32).png().toBuffer();
    await expect(pipeline.generate({ ...SOURCE, inpaint: { image: canvas.image, mask: wrong } })).rejects.toThrow('the mask is 32x32 but the request is 64x64');
  });
});
