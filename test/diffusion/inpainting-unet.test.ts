/**
 * Inpainting UNets (9 input channels: latents, mask, masked-image latents, as Optimum exports
 * SD and SDXL inpainting models), on generated SD and SDXL test models: the pipeline recognises one from the
 * session's input, feeds it the mask and the masked image at every step, refuses to run it
 * without a mask, and refuses a UNet whose channels fit neither layout.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline, type GenerateRequest, type Pipeline } from '../../worker/diffusion/index.ts';
import { readPngParameters } from '../../worker/diffusion/images.ts';
import { featherRadius } from '../../worker/diffusion/masked.ts';
import { keptRect, zoomOrPanCanvas } from '../../worker/edit-layout.ts';
import { makeTempDir, writeTinyModel } from '../../kit/tiny-sd-models.ts';
import { writeTinyXlModel } from '../../kit/tiny-sdxl-models.ts';
import { decodeRgb } from '../support/tiny-model-check.ts';

let root: string;
beforeAll(() => {
  root = makeTempDir('sd-inpainting');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const REQUEST: GenerateRequest = { prompt: 'a cat', seed: 5, steps: 4, guidance: 3, width: 64, height: 64, n: 1, sampler: 'euler' };
const ZOOM = { type: 'zoom', factor: 2 } as const;

/** A flat picture of one colour: two of them differ only in what the masked image shows. */
const flat = (r: number, g: number, b: number) => sharp({ create: { width: 64, height: 64, channels: 3, background: { r, g, b } } }).png().toBuffer();

describe.each([
  { name: 'sd-inpaint-fp32', write: (dir: string) => writeTinyModel(dir, { name: 'sd-inpaint-fp32', unetInChannels: 9 }) },
  { name: 'sd-inpaint-fp16', write: (dir: string) => writeTinyModel(dir, { name: 'sd-inpaint-fp16', unetInChannels: 9, float16: true, timestep: 'float16-scalar' }) },
  { name: 'sdxl-inpaint', write: (dir: string) => writeTinyXlModel(dir, { name: 'sdxl-inpaint', unetInChannels: 9 }) },
])('inpainting UNet $name', (variant) => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await loadPipeline(variant.write(root), { providers: ['cpu'] });
  });
  afterAll(() => pipeline.dispose());

  it('refuses plain generation: the model only runs masked edits', async () => {
    await expect(pipeline.generate(REQUEST)).rejects.toThrow(/inpainting model .* only runs masked edits/);
    await expect(pipeline.generate({ ...REQUEST, init: { image: await flat(0, 0, 0), strength: 0.5 } })).rejects.toThrow(/only runs masked edits/);
  });

  it('draws the masked area from the mask and the masked image, and keeps the rest', async () => {
    const rect = keptRect(ZOOM, { width: 64, height: 64 }, 64, 64);
    const feather = featherRadius(64, 64);
    const drawn: Uint8Array[] = [];
    for (const colour of [await flat(200, 40, 40), await flat(40, 40, 200)]) {
      const canvas = await zoomOrPanCanvas(ZOOM, colour, { width: 64, height: 64 }, 64, 64);
      const result = await pipeline.generate({ ...REQUEST, inpaint: { ...canvas, label: 'Zoom out 2x' } });
      expect(readPngParameters(result.images[0].png)).toMatchObject({ edit: 'Zoom out 2x', width: 64, height: 64 });
      const img = await decodeRgb(result.images[0].png);
      const source = await decodeRgb(canvas.image);
      const border: number[] = [];
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          const far = x < rect.left - feather || x >= rect.left + rect.width + feather || y < rect.top - feather || y >= rect.top + rect.height + feather;
          const centre = x >= rect.left + feather && x < rect.left + rect.width - feather && y >= rect.top + feather && y < rect.top + rect.height - feather;
          for (let c = 0; c < 3; c++) {
            const i = (y * 64 + x) * 3 + c;
            if (far) border.push(img.data[i]);
            if (centre) expect(img.data[i]).toBe(source.data[i]);
          }
        }
      }
      drawn.push(Uint8Array.from(border));
    }
    // Nothing of the source reaches the drawn border but the UNet's mask and masked-image
    // channels (an inpainting UNet's kept latents are not blended in): sources that differ
    // only there give different borders.
    let differing = 0;
    for (let i = 0; i < drawn[0].length; i++) if (Math.abs(drawn[0][i] - drawn[1][i]) > 2) differing++;
    expect(differing / drawn[0].length).toBeGreaterThan(0.01);
  });
});

describe('UNet channel layouts', () => {
  it('refuses a UNet whose sample channels are neither the latents nor the inpainting layout', async () => {
    const dir = writeTinyModel(root, { name: 'seven-channels', unetInChannels: 7 });
    await expect(loadPipeline(dir, { providers: ['cpu'] })).rejects.toThrow(
      "vae_decoder/model.onnx: latent_sample has 4 channels but the UNet's sample has 7 (an inpainting UNet's has 9: latents, mask, masked-image latents)",
    );
  });

  it('an ordinary UNet runs masked edits too, and plain generation as before', async () => {
    const pipeline = await loadPipeline(writeTinyModel(root, { name: 'ordinary' }), { providers: ['cpu'] });
    try {
      const canvas = await zoomOrPanCanvas(ZOOM, await flat(200, 40, 40), { width: 64, height: 64 }, 64, 64);
      const masked = await pipeline.generate({ ...REQUEST, inpaint: canvas });
      expect(masked.images[0]).toMatchObject({ width: 64, height: 64 });
      expect((await pipeline.generate(REQUEST)).images).toHaveLength(1);
    } finally {
      await pipeline.dispose();
    }
  });
});
