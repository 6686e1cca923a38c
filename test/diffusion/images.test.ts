/**
 * Image post-processing: the A1111-style `parameters` text chunk (written by hand, CRC
 * included) and its round trip, grid layouts, tensor <-> RGB conversion, previews.
 */
import zlib from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  chwToRgb,
  halfChwToRgb,
  encodePng,
  formatParameters,
  gridLayout,
  makeGrid,
  parseParameters,
  readPngParameters,
  rgbToChw,
  type ImageParameters,
} from '../../worker/diffusion/images.ts';
import { addPngText, crc32, readPngTexts } from '../../worker/diffusion/png-text.ts';
import { float16ToFloat32 } from '../../worker/diffusion/float16.ts';
import { latentPreviewPng, latentPreviewRgb } from '../../worker/diffusion/preview.ts';
import { sdFamily } from '../../worker/diffusion/families/sd.ts';
import { sdxlFamily } from '../../worker/diffusion/families/sdxl.ts';

const PARAMS: ImageParameters = {
  prompt: 'a photo of a cat, highly detailed',
  negativePrompt: 'blurry, lowres',
  steps: 20,
  sampler: 'euler_a',
  cfgScale: 7.5,
  seed: 123456789,
  width: 512,
  height: 768,
  model: 'sd15',
};

function solid(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) out.set(rgb, i * 3);
  return out;
}

/** Every chunk of a PNG with its stored and recomputed CRC. */
function chunkCrcs(png: Buffer): { type: string; stored: number; computed: number }[] {
  const out = [];
  for (let pos = 8; pos < png.length; ) {
    const len = png.readUInt32BE(pos);
    const body = png.subarray(pos + 4, pos + 8 + len);
    out.push({ type: body.toString('latin1', 0, 4), stored: png.readUInt32BE(pos + 8 + len), computed: zlib.crc32(body) });
    pos += 12 + len;
  }
  return out;
}

describe('parameters text', () => {
  it('is written in the A1111 format', () => {
    expect(formatParameters(PARAMS)).toBe(
      'a photo of a cat, highly detailed\nNegative prompt: blurry, lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 123456789, Size: 512x768, Model: sd15',
    );
    expect(formatParameters({ ...PARAMS, negativePrompt: undefined, sampler: 'dpmpp_2m_karras', denoisingStrength: 0.3, variationSeed: 7, variationStrength: 0.05 })).toBe(
      'a photo of a cat, highly detailed\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 123456789, Size: 512x768, Model: sd15, Denoising strength: 0.3, Variation seed: 7, Variation seed strength: 0.05',
    );
  });

  it('parses what A1111 writes', () => {
    const text = 'masterpiece, 1girl\nNegative prompt: bad hands\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6, Seed: 42, Size: 640x512, Model hash: abc123, Model: "v1-5, pruned"';
    expect(parseParameters(text)).toEqual({
      prompt: 'masterpiece, 1girl',
      negativePrompt: 'bad hands',
      steps: 30,
      sampler: 'dpmpp_2m_karras',
      cfgScale: 6,
      seed: 42,
      width: 640,
      height: 512,
      model: 'v1-5, pruned',
    });
  });

  it.each<[string, ImageParameters]>([
    ['plain', PARAMS],
    ['unicode and a multi-line prompt', { ...PARAMS, prompt: '夕焼けの猫 🐈\nsecond line: with a colon', negativePrompt: 'ぼやけ\nlines' }],
    ['a model name that needs quoting', { ...PARAMS, model: 'my "model", v2: final' }],
    ['img2img and variation fields', { ...PARAMS, negativePrompt: undefined, sampler: 'lcm', denoisingStrength: 0.75, variationSeed: 99, variationStrength: 0.1 }],
  ])('round-trips through a PNG: %s', async (_name, params) => {
    const png = await encodePng(solid(4, 3, [10, 20, 30]), 4, 3, formatParameters(params));
    expect(readPngParameters(png)).toEqual(params);
    // the PNG stays valid: sharp decodes it and every chunk's CRC is right
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, data[0], data[1], data[2]]).toEqual([4, 3, 10, 20, 30]);
    const crcs = chunkCrcs(png);
    expect(crcs.map((c) => c.type).slice(0, 2)).toEqual(['IHDR', 'tEXt']);
    for (const c of crcs) expect(c.stored, c.type).toBe(c.computed);
  });

  it('a PNG without the chunk has no parameters; a non-PNG is refused', async () => {
    const png = await encodePng(solid(2, 2, [0, 0, 0]), 2, 2);
    expect(readPngParameters(png)).toBeNull();
    expect(() => readPngTexts(Buffer.from('GIF89a'))).toThrow(/not a PNG/);
  });

  it('addPngText keeps other text chunks readable and checks the keyword', async () => {
    const png = addPngText(await encodePng(solid(2, 2, [1, 2, 3]), 2, 2, 'p'), 'Software', 'imagine-bot');
    expect(Object.fromEntries(readPngTexts(png))).toEqual({ Software: 'imagine-bot', parameters: 'p' });
    expect(() => addPngText(png, 'bad\nkey', 'x')).toThrow(/invalid PNG text keyword/);
  });

  it('crc32 matches zlib', () => {
    const data = Buffer.from('IEND and some bytes \u00ff', 'latin1');
    expect((crc32(data) ^ 0xffffffff) >>> 0).toBe(zlib.crc32(data));
  });
});

describe('grids', () => {
  it.each([
    [1, 1, 1],
    [2, 2, 1],
    [3, 3, 1],
    [4, 2, 2],
    [5, 3, 2],
    [6, 3, 2],
    [9, 3, 3],
  ])('%i images -> %i columns x %i rows', (count, cols, rows) => {
    expect(gridLayout(count)).toEqual({ cols, rows });
  });

  it.each([
    [2, 2 * 24, 16],
    [3, 3 * 24, 16],
    [4, 2 * 24, 2 * 16],
  ])('makeGrid of %i images of 24x16 is %ix%i with each image in its cell', async (count, width, height) => {
    const colours: [number, number, number][] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 0],
    ];
    const pngs = await Promise.all(colours.slice(0, count).map((c) => encodePng(solid(24, 16, c), 24, 16)));
    const grid = await makeGrid(pngs, 'grid params\nSteps: 1, Sampler: DDIM, CFG scale: 1, Seed: 1, Size: 24x16, Model: m');
    const { data, info } = await sharp(grid).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([width, height]);
    const cols = gridLayout(count).cols;
    for (let i = 0; i < count; i++) {
      const x = (i % cols) * 24 + 12;
      const y = Math.floor(i / cols) * 16 + 8;
      const at = (y * info.width + x) * info.channels;
      expect([data[at], data[at + 1], data[at + 2]], `image ${i}`).toEqual(colours[i]);
    }
    expect(readPngParameters(grid)?.prompt).toBe('grid params');
  });
});

describe('tensor conversion and previews', () => {
  it('NCHW floats in [-1, 1] <-> RGB bytes, clamped, as diffusers does', () => {
    const chw = new Float32Array([-1, 0, 1, 2, /* G */ -2, 0.5, -0.5, 1, /* B */ 0, 0, 0, 0]);
    expect(Array.from(chwToRgb(chw, 2, 2))).toEqual([0, 0, 128, 128, 191, 128, 255, 64, 128, 255, 255, 128]);
    const rgb = new Uint8Array([0, 255, 51, 102, 153, 204]);
    const back = rgbToChw(rgb, 2, 1);
    expect(Array.from(back).map((v) => Math.round(v * 1000) / 1000)).toEqual([-1, -0.2, 1, 0.2, -0.6, 0.6]);
    expect(Array.from(chwToRgb(back, 2, 1))).toEqual(Array.from(rgb));
  });

  it('an fp16 image goes from its half bits to the same RGB bytes as through float32', () => {
    // every half bit pattern once (NaN, infinities, subnormals, both zeros), as three planes
    const bits = new Uint16Array(3 * 128 * 171);
    for (let i = 0; i < bits.length; i++) bits[i] = i % 65536;
    expect(Array.from(halfChwToRgb(bits, 171, 128))).toEqual(Array.from(chwToRgb(float16ToFloat32(bits), 171, 128)));
  });

  it('the latent preview is the family\'s fixed linear map at latent size', async () => {
    // one latent pixel with channel values 1, 0, 0, 0 -> the first row of the map
    const latent = new Float32Array([1, 0, 0, 0]);
    expect(Array.from(latentPreviewRgb(latent, 4, 1, 1, sdFamily.latentRgb))).toEqual([Math.round(1.298 * 127.5), Math.round(1.207 * 127.5), Math.round(1.208 * 127.5)]);
    // SDXL's latent space differs: ComfyUI's SDXL factors, first row 0.392, 0.4054, 0.4549
    expect(Array.from(latentPreviewRgb(latent, 4, 1, 1, sdxlFamily.latentRgb))).toEqual([Math.round(1.392 * 127.5), Math.round(1.4054 * 127.5), Math.round(1.4549 * 127.5)]);
    const png = await latentPreviewPng(new Float32Array(4 * 6 * 5), 4, 6, 5, sdxlFamily.latentRgb);
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([5, 6]);
  });
});
