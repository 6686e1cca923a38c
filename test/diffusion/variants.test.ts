/**
 * Every export variant the pipeline supports, run end to end in onnxruntime: txt2img,
 * img2img and hires-fix upscale on real ONNX files with the real SD input/output names.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline, type Pipeline } from '../../worker/diffusion/index.ts';
import { readPngParameters } from '../../worker/diffusion/images.ts';
import { VARIANTS, makeTempDir, writeTinyModel } from '../../kit/tiny-sd-models.ts';

let root: string;
beforeAll(() => {
  root = makeTempDir('sd-variants');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function rawPixels(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, info };
}

describe.each(VARIANTS)('model variant $name', (variant) => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await loadPipeline(writeTinyModel(root, variant), { providers: ['cpu'] });
  });
  afterAll(() => pipeline.dispose());

  it('loads with the cpu provider and the folder name and size from its configs', () => {
    expect(pipeline.providers).toEqual(['cpu']);
    expect(pipeline.name).toBe(variant.name);
    expect(pipeline.defaultSize).toEqual({ width: 64, height: 64 });
    expect(pipeline.canImg2Img).toBe(true);
  });

  it('txt2img produces n PNGs of the asked size, a grid and the parameters chunk', async () => {
    const steps: number[] = [];
    const result = await pipeline.generate(
      { prompt: 'a photo of a cat', negativePrompt: 'dog', seed: 42, steps: 5, guidance: 7.5, width: 64, height: 48, n: 2, sampler: 'euler_a' },
      { onProgress: (p) => steps.push(p.step) },
    );
    expect(steps).toEqual([1, 2, 3, 4, 5]);
    expect(result.images.map((i) => [i.seed, i.width, i.height])).toEqual([
      [42, 64, 48],
      [43, 64, 48],
    ]);
    for (const image of result.images) {
      const { info } = await rawPixels(image.png);
      expect([info.width, info.height, info.channels]).toEqual([64, 48, 3]);
    }
    const grid = await sharp(result.grid!).metadata();
    expect([grid.width, grid.height]).toEqual([128, 48]);
    expect(readPngParameters(result.images[1].png)).toEqual({
      prompt: 'a photo of a cat',
      negativePrompt: 'dog',
      steps: 5,
      sampler: 'euler_a',
      cfgScale: 7.5,
      seed: 43,
      width: 64,
      height: 48,
      model: variant.name,
    });
    expect(result.timings.steps).toBe(5);
    expect(result.timings.batchSize).toBe(2);
    expect(result.timings.ortRunMs).toBeGreaterThan(0);
    expect(result.timings.ortRunMs).toBeLessThanOrEqual(result.timings.totalMs);
    expect(result.provider).toBe('cpu');
    expect(result.model).toBe(variant.name);
    // the images are not flat: the model's output reaches the pixels
    const { data } = await rawPixels(result.images[0].png);
    expect(new Set(data).size).toBeGreaterThan(50);
  });

  it('img2img runs strength x steps steps and stays close to the init image at low strength', async () => {
    const init = (await pipeline.generate({ prompt: 'a photo of a dog', seed: 7, steps: 4, guidance: 1, width: 64, height: 64, n: 1, sampler: 'ddim' })).images[0].png;
    const steps: number[] = [];
    const result = await pipeline.generate(
      { prompt: 'a photo of a dog', seed: 8, steps: 10, guidance: 5, width: 64, height: 64, n: 1, sampler: 'dpmpp_2m', init: { image: init, strength: 0.3 } },
      { onProgress: (p) => steps.push(p.total) },
    );
    expect(steps).toEqual([3, 3, 3]);
    expect(result.timings.steps).toBe(3);
    expect(readPngParameters(result.images[0].png)?.denoisingStrength).toBe(0.3);
    const { info } = await rawPixels(result.images[0].png);
    expect([info.width, info.height]).toEqual([64, 64]);
  });

  it('upscale x2 (hires fix) returns an image twice the size', async () => {
    const source = (await pipeline.generate({ prompt: 'cat', seed: 1, steps: 3, guidance: 3, width: 32, height: 40, n: 1, sampler: 'euler' })).images[0].png;
    const result = await pipeline.upscale({ image: source, factor: 2, prompt: 'cat', seed: 5, steps: 10, guidance: 3, sampler: 'euler' });
    expect(result.images[0]).toMatchObject({ width: 64, height: 80, seed: 5 });
    const meta = await sharp(result.images[0].png).metadata();
    expect([meta.width, meta.height]).toEqual([64, 80]);
    expect(result.timings.steps).toBe(3); // default strength 0.3 of 10 steps
  });
});

describe('other folder layouts', () => {
  it('a folder without vae_encoder generates but refuses img2img before any work', async () => {
    const p = await loadPipeline(writeTinyModel(root, { name: 'no-encoder', withVaeEncoder: false }));
    expect(p.canImg2Img).toBe(false);
    const ok = await p.generate({ prompt: 'cat', seed: 1, steps: 2, guidance: 2, width: 32, height: 32, n: 1, sampler: 'pndm' });
    expect(ok.images).toHaveLength(1);
    await expect(
      p.generate({ prompt: 'cat', seed: 1, steps: 2, guidance: 2, width: 32, height: 32, n: 1, sampler: 'pndm', init: { image: ok.images[0].png, strength: 0.5 } }),
    ).rejects.toThrow(/img2img needs vae_encoder\/model.onnx/);
    await p.dispose();
  });

  it('the external-data UNet keeps its weights in unet/weights.pb', () => {
    const dir = path.join(root, 'external-data', 'unet');
    expect(fs.statSync(path.join(dir, 'weights.pb')).size).toBeGreaterThan(0);
  });

  it('the latent scaling factor comes from the VAE config and changes the result', async () => {
    const a = await loadPipeline(writeTinyModel(root, { name: 'scale-default' }));
    const b = await loadPipeline(writeTinyModel(root, { name: 'scale-half', scalingFactor: 0.5 }));
    const req = { prompt: 'cat', seed: 3, steps: 3, guidance: 4, width: 32, height: 32, n: 1, sampler: 'euler' as const, modelLabel: 'same' };
    const [ra, rb] = [await a.generate(req), await b.generate(req)];
    expect(ra.images[0].png.equals(rb.images[0].png)).toBe(false);
    await a.dispose();
    await b.dispose();
  });

  it('fixedSize serves one size with its dimensions fixed for onnxruntime, same pixels as a free pipeline', async () => {
    const dir = writeTinyModel(root, { name: 'fixed-size' });
    const free = await loadPipeline(dir);
    const fixed = await loadPipeline(dir, { fixedSize: { width: 64, height: 48 } });
    expect(fixed.defaultSize).toEqual({ width: 64, height: 48 });
    const req = { prompt: 'cat', seed: 2, steps: 3, guidance: 5, width: 64, height: 48, n: 2, sampler: 'euler' as const };
    const [a, b] = [await free.generate(req), await fixed.generate(req)];
    expect(b.images.map((i) => i.png.equals(a.images[i.seed - 2].png))).toEqual([true, true]);
    await expect(fixed.generate({ ...req, width: 32 })).rejects.toThrow(
      /size 32x48 is not available: this worker was configured to serve one size and generates 64x48 only/,
    );
    await free.dispose();
    await fixed.dispose();
  });

  it('a UNet exported with a fixed latent size serves exactly that size', async () => {
    const p = await loadPipeline(writeTinyModel(root, { name: 'static-unet', staticLatent: 6 }));
    expect(p.defaultSize).toEqual({ width: 48, height: 48 });
    const ok = await p.generate({ prompt: 'cat', seed: 2, steps: 2, guidance: 5, width: 48, height: 48, n: 1, sampler: 'ddim' });
    expect(ok.images[0]).toMatchObject({ width: 48, height: 48 });
    await expect(p.generate({ prompt: 'cat', seed: 2, steps: 2, guidance: 5, width: 64, height: 64, n: 1, sampler: 'ddim' })).rejects.toThrow(
      /static-unet\/unet\/model\.onnx is exported with a fixed size and generates 48x48 only/,
    );
    await p.dispose();
  });
});
