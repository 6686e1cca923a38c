/**
 * The SDXL path against diffusers' StableDiffusionXLPipeline loop written out by hand
 * with onnxruntime: both encoders' penultimate hidden states concatenated per token,
 * text_encoder_2's pooled text_embeds, time_ids (h, w, 0, 0, h, w) for both CFG halves,
 * zeros as the unconditional half when there is no negative prompt, one UNet pass per
 * step when guidance is off, SDXL's 0.13025 latent scale. The test UNet's output depends
 * on each of those inputs, so any misrouting changes the pixels; they must match exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, createScheduler, img2imgTimesteps, loadPipeline, seededNoise, type SchedulerName } from '../../worker/diffusion/index.ts';
import { createRandom } from '../../worker/diffusion/random.ts';
import { makeTempDir } from '../../kit/tiny-sd-models.ts';
import { SDXL_SCHEDULER_CONFIG, SDXL_TURBO_SCHEDULER_CONFIG, writeTinyXlModel, XL_D1, XL_D2, XL_LAYERS, XL_POOLED, type TinyXlVariant } from '../../kit/tiny-sdxl-models.ts';

let root: string;
beforeAll(() => {
  root = makeTempDir('sdxl-reference');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// not square, so height and width cannot trade places in time_ids unnoticed
const W = 48;
const H = 32;
const LATENT = 4 * (H / 8) * (W / 8);
const SCALE = 0.13025;
const PENULTIMATE = `hidden_states.${XL_LAYERS - 1}`;

interface Sessions {
  te1: ort.InferenceSession;
  te2: ort.InferenceSession;
  unet: ort.InferenceSession;
  decoder: ort.InferenceSession;
  encoder: ort.InferenceSession;
  tok1: ClipTokenizer;
  tok2: ClipTokenizer;
}

async function open(dir: string): Promise<Sessions> {
  const s = (sub: string) => ort.InferenceSession.create(path.join(dir, sub, 'model.onnx'));
  return {
    te1: await s('text_encoder'),
    te2: await s('text_encoder_2'),
    unet: await s('unet'),
    decoder: await s('vae_decoder'),
    encoder: await s('vae_encoder'),
    tok1: ClipTokenizer.fromModelDir(path.join(dir, 'tokenizer')),
    tok2: ClipTokenizer.fromModelDir(path.join(dir, 'tokenizer_2')),
  };
}

interface Cond {
  hidden: Float32Array;
  pooled: Float32Array;
}

/** diffusers' encode_prompt for one text, restated. */
async function encode(s: Sessions, text: string): Promise<Cond> {
  const ids = (t: ClipTokenizer) => new ort.Tensor('int32', Int32Array.from(t.inputIds(text)), [1, 77]);
  const a = await s.te1.run({ input_ids: ids(s.tok1) });
  const b = await s.te2.run({ input_ids: ids(s.tok2) });
  const h1 = a[PENULTIMATE].data as Float32Array;
  const h2 = b[PENULTIMATE].data as Float32Array;
  const hidden = new Float32Array(77 * (XL_D1 + XL_D2));
  for (let t = 0; t < 77; t++) {
    hidden.set(h1.subarray(t * XL_D1, (t + 1) * XL_D1), t * (XL_D1 + XL_D2));
    hidden.set(h2.subarray(t * XL_D2, (t + 1) * XL_D2), t * (XL_D1 + XL_D2) + XL_D1);
  }
  return { hidden, pooled: b.text_embeds.data as Float32Array };
}

const zeros = (): Cond => ({ hidden: new Float32Array(77 * (XL_D1 + XL_D2)), pooled: new Float32Array(XL_POOLED) });

/** One UNet run over the halves given (uncond first), time_ids repeated per half. */
async function unetRun(s: Sessions, halves: Cond[], x: Float32Array, t: number): Promise<Float32Array> {
  const n = halves.length;
  const out = await s.unet.run({
    sample: new ort.Tensor('float32', new Float32Array(Array.from({ length: n }, () => [...x]).flat()), [n, 4, H / 8, W / 8]),
    timestep: new ort.Tensor('int64', BigInt64Array.from(Array.from({ length: n }, () => BigInt(Math.trunc(t)))), [n]),
    encoder_hidden_states: new ort.Tensor('float32', new Float32Array(halves.flatMap((h) => [...h.hidden])), [n, 77, XL_D1 + XL_D2]),
    text_embeds: new ort.Tensor('float32', new Float32Array(halves.flatMap((h) => [...h.pooled])), [n, XL_POOLED]),
    time_ids: new ort.Tensor('float32', new Float32Array(Array.from({ length: n }, () => [H, W, 0, 0, H, W]).flat()), [n, 6]),
  });
  return out.out_sample.data as Float32Array;
}

async function decodeToPixels(s: Sessions, latents: Float32Array): Promise<Buffer> {
  const out = await s.decoder.run({ latent_sample: new ort.Tensor('float32', latents.map((v) => v / SCALE), [1, 4, H / 8, W / 8]) });
  const img = out.sample.data as Float32Array;
  const plane = W * H;
  const rgb = Buffer.alloc(plane * 3);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.min(255, Math.max(0, Math.floor(img[c * plane + i] * 127.5 + 128)));
  return rgb;
}

const pixels = (png: Buffer) => sharp(png).raw().toBuffer();

interface Case {
  name: string;
  variant?: Partial<TinyXlVariant>;
  negative?: string;
  guidance: number;
  sampler: SchedulerName;
  steps?: number;
}

const CASES: Case[] = [
  { name: 'CFG with a negative prompt: both encoders, both halves', negative: 'dog', guidance: 6, sampler: 'euler_a' },
  { name: 'CFG without a negative prompt: force_zeros_for_empty_prompt makes the unconditional half zeros', guidance: 5, sampler: 'euler' },
  { name: 'CFG without a negative prompt, force_zeros off: the empty prompt is encoded', variant: { forceZeros: false }, guidance: 5, sampler: 'dpmpp_2m' },
  { name: 'guidance 0 (Turbo): one UNet pass per step, no unconditional half', negative: 'dog', guidance: 0, sampler: 'euler_a' },
  {
    name: 'SDXL-Turbo: the folder\'s trailing timestep spacing, one step from t = 999 at guidance 0',
    variant: { schedulerConfig: SDXL_TURBO_SCHEDULER_CONFIG },
    guidance: 0,
    sampler: 'euler_a',
    steps: 1,
  },
];

describe('the SDXL pipeline equals diffusers\' SDXL loop written out by hand', () => {
  it.each(CASES)('$name', async (c) => {
    const dir = writeTinyXlModel(root, { name: `ref-${CASES.indexOf(c)}`, ...c.variant });
    const s = await open(dir);
    const [prompt, seed, steps] = ['a photo of a cat', 21, c.steps ?? 4];
    const config = c.variant?.schedulerConfig ?? SDXL_SCHEDULER_CONFIG;
    const cond = await encode(s, prompt);
    const cfg = c.guidance > 1;
    const uncond = c.negative !== undefined ? await encode(s, c.negative) : c.variant?.forceZeros === false ? await encode(s, '') : zeros();
    const scheduler = createScheduler(c.sampler, config);
    scheduler.setTimesteps(steps);
    if (config.timestep_spacing === 'trailing') expect(scheduler.timesteps).toEqual([999]);
    const stepNoise = createRandom(seed, 0x5eed5eed5eedn);
    let latents: Float32Array = seededNoise(seed, LATENT).map((v) => v * scheduler.initNoiseSigma);
    for (const t of scheduler.timesteps) {
      const x = scheduler.scaleModelInput(latents, t);
      let eps: Float32Array;
      if (cfg) {
        const both = await unetRun(s, [uncond, cond], x, t);
        eps = new Float32Array(LATENT).map((_, i) => both[i] + c.guidance * (both[LATENT + i] - both[i]));
      } else {
        eps = await unetRun(s, [cond], x, t);
      }
      latents = scheduler.step(eps, t, latents, { generator: stepNoise });
    }
    const expected = await decodeToPixels(s, latents);
    const p = await loadPipeline(dir);
    const got = await p.generate({ prompt, negativePrompt: c.negative, seed, steps, guidance: c.guidance, width: W, height: H, n: 1, sampler: c.sampler });
    expect((await pixels(got.images[0].png)).equals(expected)).toBe(true);
    await p.dispose();
  });

  it('img2img (attachments, Vary, hires fix): VAE encode x 0.13025, noised to the strength\'s first timestep', async () => {
    const dir = writeTinyXlModel(root, { name: 'ref-img2img' });
    const s = await open(dir);
    const rgb = Buffer.from(Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 7) % 256));
    const init = await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
    const [prompt, seed, steps, strength, guidance] = ['a photo', 12, 10, 0.6, 4];
    const image = new Float32Array(3 * W * H);
    for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) image[c * W * H + i] = (rgb[i * 3 + c] / 255) * 2 - 1;
    const enc = await s.encoder.run({ sample: new ort.Tensor('float32', image, [1, 3, H, W]) });
    const initLatent = (enc.latent_sample.data as Float32Array).map((v) => v * SCALE);
    const scheduler = createScheduler('euler', SDXL_SCHEDULER_CONFIG);
    const { timesteps, latentTimestep } = img2imgTimesteps(scheduler, steps, strength);
    let latents = scheduler.addNoise(initLatent, seededNoise(seed, LATENT), latentTimestep);
    const cond = await encode(s, prompt);
    for (const t of timesteps) {
      const both = await unetRun(s, [zeros(), cond], scheduler.scaleModelInput(latents, t), t);
      const eps = new Float32Array(LATENT).map((_, i) => both[i] + guidance * (both[LATENT + i] - both[i]));
      latents = scheduler.step(eps, t, latents);
    }
    const expected = await decodeToPixels(s, latents);
    const p = await loadPipeline(dir);
    const got = await p.generate({ prompt, seed, steps, guidance, width: W, height: H, n: 1, sampler: 'euler', init: { image: init, strength } });
    expect((await pixels(got.images[0].png)).equals(expected)).toBe(true);
    await p.dispose();
  });
});
