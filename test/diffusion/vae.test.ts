/** The VAE: the mean of latent_parameters times the scaling factor, and tiled decode and encode matching the untiled run. */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnxInterface } from '../../worker/diffusion/onnx-header.ts';
import { checkVaeEncoder, checkVaeDecoder } from '../../worker/diffusion/model-contract.ts';
import { OnnxModel, RunClock, readFloats } from '../../worker/diffusion/sessions.ts';
import { Vae } from '../../worker/diffusion/vae.ts';
import { loadPipeline } from '../../worker/diffusion/index.ts';
import { makeTempDir, writeTinyModel, LATENT_CHANNELS } from '../../kit/tiny-sd-models.ts';

let root: string;

beforeAll(() => {
  root = makeTempDir('sd-units');
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('VAE', () => {
  it('takes the mean (first 4 channels) of latent_parameters, times the scaling factor', async () => {
    const dir = writeTinyModel(root, { name: 'params-vae', encoderOutput: 'latent_parameters' });
    const clock = new RunClock();
    const file = path.join(dir, 'vae_encoder', 'model.onnx');
    const encoder = await OnnxModel.load(file, 'vae_encoder', { providers: ['cpu'] }, clock);
    const decoderFile = path.join(dir, 'vae_decoder', 'model.onnx');
    const decoder = await OnnxModel.load(decoderFile, 'vae_decoder', { providers: ['cpu'] }, clock);
    const vae = new Vae(decoder, checkVaeDecoder('d', readOnnxInterface(decoderFile)), encoder, checkVaeEncoder('e', readOnnxInterface(file)), 0.5, 8, LATENT_CHANNELS);
    const image = Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.cos(i) * 0.9);
    const raw = readFloats((await encoder.run({ sample: new ort.Tensor('float32', image, [1, 3, 16, 16]) })).latent_parameters, 'raw');
    expect(raw).toHaveLength(8 * 2 * 2);
    const latent = await vae.encode(image, 16, 16);
    expect(Array.from(latent)).toEqual(Array.from(raw.slice(0, 16)).map((v) => Math.fround(v * 0.5)));
    expect(clock.runs).toBe(2);
    await encoder.release();
    await decoder.release();
  });

  it('tiled decode and encode match the untiled run on a 128x96 image', async () => {
    const dir = writeTinyModel(root, { name: 'tiles' });
    const whole = await loadPipeline(dir);
    const tiled = await loadPipeline(dir, { vaeTiling: { tile: 6, overlap: 2 } });
    const req = { prompt: 'cat', seed: 4, steps: 3, guidance: 5, width: 128, height: 96, n: 1, sampler: 'ddim' as const };
    const [a, b] = [await whole.generate(req), await tiled.generate(req)];
    const [pa, pb] = [await sharp(a.images[0].png).raw().toBuffer(), await sharp(b.images[0].png).raw().toBuffer()];
    let maxDiff = 0;
    for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i] - pb[i]));
    expect(maxDiff).toBeLessThanOrEqual(1);
    // img2img goes through the tiled encoder as well
    const init = { image: a.images[0].png, strength: 0.5 };
    const [ia, ib] = [await whole.generate({ ...req, init }), await tiled.generate({ ...req, init })];
    const [qa, qb] = [await sharp(ia.images[0].png).raw().toBuffer(), await sharp(ib.images[0].png).raw().toBuffer()];
    maxDiff = 0;
    for (let i = 0; i < qa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(qa[i] - qb[i]));
    expect(maxDiff).toBeLessThanOrEqual(2);
    await whole.dispose();
    await tiled.dispose();
  });
});
