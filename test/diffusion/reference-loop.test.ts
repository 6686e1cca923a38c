/**
 * The pipeline against a plain, independent re-statement of diffusers' loops written
 * here with onnxruntime directly: txt2img with classifier-free guidance, img2img
 * (encode, scale, add_noise at the strength's first timestep) and LCM (guidance
 * embedding, no CFG, the last `denoised` decoded). The pixels must match exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, createScheduler, img2imgTimesteps, loadPipeline, seededNoise, type SchedulerName } from '../../worker/diffusion/index.ts';
import { makeTempDir, writeTinyModel, SD15_SCHEDULER_CONFIG, TIME_COND_DIM } from '../../kit/tiny-sd-models.ts';

let root: string;
beforeAll(() => {
  root = makeTempDir('sd-reference');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const SIZE = 32;
const LATENT = [1, 4, SIZE / 8, SIZE / 8];
const SCALE = 0.18215;

async function sessions(dir: string) {
  const open = (sub: string) => ort.InferenceSession.create(path.join(dir, sub, 'model.onnx'));
  return { text: await open('text_encoder'), unet: await open('unet'), decoder: await open('vae_decoder'), encoder: await open('vae_encoder') };
}

async function embed(s: ort.InferenceSession, tokenizer: ClipTokenizer, text: string): Promise<Float32Array> {
  const ids = tokenizer.inputIds(text);
  const out = await s.run({ input_ids: new ort.Tensor('int32', Int32Array.from(ids), [1, 77]) });
  return out.last_hidden_state.data as Float32Array;
}

async function decodeToPixels(decoder: ort.InferenceSession, latents: Float32Array): Promise<Buffer> {
  const out = await decoder.run({ latent_sample: new ort.Tensor('float32', latents.map((v) => v / SCALE), LATENT) });
  const img = out.sample.data as Float32Array;
  const plane = SIZE * SIZE;
  const rgb = Buffer.alloc(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.min(255, Math.max(0, Math.floor(img[c * plane + i] * 127.5 + 128)));
  }
  return rgb;
}

const pixels = (png: Buffer) => sharp(png).raw().toBuffer();

describe('the pipeline equals diffusers-style loops written out by hand', () => {
  it.each<SchedulerName>(['ddim', 'euler_a', 'dpmpp_2m'])('txt2img with CFG (%s)', async (sampler) => {
    const dir = writeTinyModel(root, { name: `txt-${sampler}`, scalingFactor: SCALE });
    const s = await sessions(dir);
    const tokenizer = ClipTokenizer.fromModelDir(path.join(dir, 'tokenizer'));
    const [prompt, negative, seed, guidance, steps] = ['a photo of a cat', 'dog', 77, 6, 5];
    const cond = await embed(s.text, tokenizer, prompt);
    const uncond = await embed(s.text, tokenizer, negative);
    const scheduler = createScheduler(sampler, SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(steps);
    const { createRandom } = await import('../../worker/diffusion/random.ts');
    const stepNoise = createRandom(seed, 0x5eed5eed5eedn);
    let latents: Float32Array = seededNoise(seed, 4 * 4 * 4).map((v) => v * scheduler.initNoiseSigma);
    const hidden = new Float32Array([...uncond, ...cond]);
    for (const t of scheduler.timesteps) {
      const x = scheduler.scaleModelInput(latents, t);
      const out = await s.unet.run({
        sample: new ort.Tensor('float32', new Float32Array([...x, ...x]), [2, 4, 4, 4]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(Math.trunc(t)), BigInt(Math.trunc(t))]), [2]),
        encoder_hidden_states: new ort.Tensor('float32', hidden, [2, 77, 8]),
      });
      const eps = out.out_sample.data as Float32Array;
      const guided = new Float32Array(64).map((_, i) => eps[i] + guidance * (eps[64 + i] - eps[i]));
      latents = scheduler.step(guided, t, latents, { generator: stepNoise });
    }
    const expected = await decodeToPixels(s.decoder, latents);
    const p = await loadPipeline(dir);
    const got = await p.generate({ prompt, negativePrompt: negative, seed, steps, guidance, width: SIZE, height: SIZE, n: 1, sampler });
    expect((await pixels(got.images[0].png)).equals(expected)).toBe(true);
    await p.dispose();
  });

  it('img2img: VAE encode x scaling factor, add_noise at the first kept timestep, the rest of the schedule', async () => {
    const dir = writeTinyModel(root, { name: 'img2img', scalingFactor: SCALE });
    const s = await sessions(dir);
    const tokenizer = ClipTokenizer.fromModelDir(path.join(dir, 'tokenizer'));
    const rgb = Buffer.from(Uint8Array.from({ length: SIZE * SIZE * 3 }, (_, i) => (i * 7) % 256));
    const init = await sharp(rgb, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
    const [prompt, seed, steps, strength] = ['a photo', 12, 10, 0.6];
    const image = new Float32Array(3 * SIZE * SIZE);
    for (let i = 0; i < SIZE * SIZE; i++) for (let c = 0; c < 3; c++) image[c * SIZE * SIZE + i] = (rgb[i * 3 + c] / 255) * 2 - 1;
    const enc = await s.encoder.run({ sample: new ort.Tensor('float32', image, [1, 3, SIZE, SIZE]) });
    const initLatent = (enc.latent_sample.data as Float32Array).map((v) => v * SCALE);
    const scheduler = createScheduler('ddim', SD15_SCHEDULER_CONFIG);
    const { timesteps, latentTimestep } = img2imgTimesteps(scheduler, steps, strength);
    expect(timesteps).toHaveLength(6);
    let latents = scheduler.addNoise(initLatent, seededNoise(seed, 64), latentTimestep);
    const cond = await embed(s.text, tokenizer, prompt);
    for (const t of timesteps) {
      const out = await s.unet.run({
        sample: new ort.Tensor('float32', scheduler.scaleModelInput(latents, t), [1, 4, 4, 4]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(t)]), [1]),
        encoder_hidden_states: new ort.Tensor('float32', cond, [1, 77, 8]),
      });
      latents = scheduler.step(out.out_sample.data as Float32Array, t, latents);
    }
    const expected = await decodeToPixels(s.decoder, latents);
    const p = await loadPipeline(dir);
    // guidance 1: no uncond half, so the hand-written loop above needs none either
    const got = await p.generate({ prompt, seed, steps, guidance: 1, width: SIZE, height: SIZE, n: 1, sampler: 'ddim', init: { image: init, strength } });
    expect((await pixels(got.images[0].png)).equals(expected)).toBe(true);
    await p.dispose();
  });

  it('LCM: w = guidance - 1 embedded as timestep_cond, no CFG, the final denoised estimate decoded', async () => {
    const dir = writeTinyModel(root, { name: 'lcm-ref', lcm: true, scalingFactor: SCALE });
    const s = await sessions(dir);
    const tokenizer = ClipTokenizer.fromModelDir(path.join(dir, 'tokenizer'));
    const [prompt, seed, steps, guidance] = ['a cat', 3, 4, 8];
    // diffusers' get_guidance_scale_embedding, restated
    const half = TIME_COND_DIM / 2;
    const w = (guidance - 1) * 1000;
    const cond = new Float32Array(TIME_COND_DIM);
    for (let i = 0; i < half; i++) {
      const f = Math.fround(Math.exp((-Math.log(10000) / (half - 1)) * i));
      cond[i] = Math.sin(Math.fround(w * f));
      cond[half + i] = Math.cos(Math.fround(w * f));
    }
    const scheduler = createScheduler('lcm', SD15_SCHEDULER_CONFIG);
    scheduler.setTimesteps(steps);
    const { createRandom } = await import('../../worker/diffusion/random.ts');
    const stepNoise = createRandom(seed, 0x5eed5eed5eedn);
    let latents: Float32Array = seededNoise(seed, 64).map((v) => v * scheduler.initNoiseSigma);
    const hidden = await embed(s.text, tokenizer, prompt);
    let denoised: Float32Array | undefined;
    for (const t of scheduler.timesteps) {
      const out = await s.unet.run({
        sample: new ort.Tensor('float32', scheduler.scaleModelInput(latents, t), [1, 4, 4, 4]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(t)]), [1]),
        encoder_hidden_states: new ort.Tensor('float32', hidden, [1, 77, 8]),
        timestep_cond: new ort.Tensor('float32', cond, [1, TIME_COND_DIM]),
      });
      latents = scheduler.step(out.out_sample.data as Float32Array, t, latents, { generator: stepNoise });
      denoised = scheduler.lastDenoised;
    }
    const expected = await decodeToPixels(s.decoder, denoised!);
    const p = await loadPipeline(dir);
    const got = await p.generate({ prompt, negativePrompt: 'ignored by LCM', seed, steps, guidance, width: SIZE, height: SIZE, n: 1, sampler: 'lcm' });
    expect((await pixels(got.images[0].png)).equals(expected)).toBe(true);
    await p.dispose();
  });
});
