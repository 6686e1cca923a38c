/** The upscaler model run tiled with context margins: x4 equals nearest-neighbour exactly, x2 resizes after. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, readPngParameters } from '../../worker/diffusion/images.ts';
import { loadPipeline } from '../../worker/diffusion/index.ts';
import { makeTempDir, writeTinyModel, writeTinyUpscaler } from '../../kit/tiny-sd-models.ts';

let root: string;

beforeAll(() => {
  root = makeTempDir('sd-units');
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('upscaler model', () => {
  it('runs tiled with context margins; x4 equals nearest-neighbour exactly, x2 resizes after', async () => {
    const dir = writeTinyModel(root, { name: 'with-upscaler' });
    const upscalerDir = writeTinyUpscaler(path.join(root, 'esrgan'));
    const p = await loadPipeline(dir, { upscalerDir, upscalerTiling: { tile: 16, pad: 4 } });
    expect(p.hasUpscalerModel).toBe(true);
    const [w, h] = [40, 24];
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const source = await encodePng(rgb, w, h, 'a cat\nSteps: 4, Sampler: DDIM, CFG scale: 5, Seed: 9, Size: 40x24, Model: tiny');
    const x4 = await p.upscale({ image: source, factor: 4, prompt: 'ignored', seed: 9, steps: 4, guidance: 5, sampler: 'ddim' });
    expect(x4.sampler).toBe('upscaler');
    expect(x4.images[0]).toMatchObject({ width: 160, height: 96 });
    const out = await sharp(x4.images[0].png).raw().toBuffer();
    for (let y = 0; y < 96; y++) {
      for (let x = 0; x < 160; x++) {
        for (let c = 0; c < 3; c++) {
          const expected = rgb[(Math.floor(y / 4) * w + Math.floor(x / 4)) * 3 + c];
          if (out[(y * 160 + x) * 3 + c] !== expected) throw new Error(`pixel ${x},${y} channel ${c}`);
        }
      }
    }
    // the source's parameters travel with the upscaled image
    expect(readPngParameters(x4.images[0].png)?.prompt).toBe('a cat');
    expect(x4.timings.ortRunMs).toBeGreaterThan(0);
    const x2 = await p.upscale({ image: source, factor: 2, prompt: 'ignored', seed: 9, steps: 4, guidance: 5, sampler: 'ddim' });
    const meta = await sharp(x2.images[0].png).metadata();
    expect([meta.width, meta.height]).toEqual([80, 48]);
    await p.dispose();
  });
});
