/**
 * The pipeline's building blocks on their own: float16 conversion, the LCM guidance
 * embedding, noise slerp, tiling, reading an ONNX file's interface without loading it,
 * the VAE's latent_parameters mean, tiled VAE and upscaler runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, fromHalfBits, toHalfBits } from '../../worker/diffusion/float16.ts';
import { guidanceEmbedding } from '../../worker/diffusion/guidance-embedding.ts';
import { imageNoise, slerp } from '../../worker/diffusion/noise.ts';
import { seededNoise } from '../../worker/diffusion/random.ts';
import { runTiled, tileStarts } from '../../worker/diffusion/tiling.ts';
import { readOnnxInterface } from '../../worker/diffusion/onnx-header.ts';
import { knownDims, checkVaeEncoder, checkVaeDecoder } from '../../worker/diffusion/model-contract.ts';
import { OnnxModel, RunClock, readFloats } from '../../worker/diffusion/sessions.ts';
import { Vae } from '../../worker/diffusion/vae.ts';
import { encodePng, readPngParameters } from '../../worker/diffusion/images.ts';
import { loadPipeline } from '../../worker/diffusion/index.ts';
import { VARIANTS, makeTempDir, writeTinyModel, writeTinyUpscaler, LATENT_CHANNELS } from '../../kit/tiny-sd-models.ts';

let root: string;
beforeAll(() => {
  root = makeTempDir('sd-units');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('float16', () => {
  it('converts known values with round-to-nearest-even', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds up to infinity
      [Infinity, 0x7c00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // a tie: rounds to even (zero)
      [3 * 2 ** -25, 0x0002], // a tie between 1 and 2 subnormal units: rounds to even
      [1 + 2 ** -11, 0x3c00], // a tie between 1 and the next half: rounds to even
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) expect(toHalfBits(value), String(value)).toBe(bits);
    expect(toHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalfBits(NaN) & 0x3ff).not.toBe(0);
  });

  it('float32 -> half agrees with the nearest half (ties to even) across every exponent and the rounding boundaries', () => {
    // independent reference: the finite halves in value order, searched for the nearest
    const finite = Array.from({ length: 0x7c00 }, (_, h) => h); // +0 .. 65504, increasing
    const nearest = (v: number): number => {
      const a = Math.abs(v);
      const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
      if (Number.isNaN(v)) return -1;
      if (a >= 65520) return sign | 0x7c00;
      let lo = 0;
      let hi = finite.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (fromHalfBits(mid) <= a) lo = mid;
        else hi = mid;
      }
      const dLo = a - fromHalfBits(lo);
      const dHi = fromHalfBits(hi) - a;
      const h = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
      return sign | h;
    };
    const mantissas = [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x5000, 0x7fe000, 0x7fefff, 0x7ff000, 0x7fffff];
    const bits: number[] = [];
    for (let exp = 0; exp < 255; exp++) for (const m of mantissas) for (const sign of [0, 0x80000000]) bits.push((sign | (exp << 23) | m) >>> 0);
    const values = new Float32Array(new Uint32Array(bits).buffer);
    const half = float32ToFloat16(values);
    values.forEach((v, i) => {
      const want = nearest(v);
      expect(half[i], `${v} (float bits 0x${bits[i].toString(16)})`).toBe(want);
      expect(toHalfBits(v), String(v)).toBe(want);
    });
  });

  it('every half value survives half -> float32 -> half', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ToFloat16(float16ToFloat32(all));
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(fromHalfBits(h))) continue;
      if (back[h] !== h) throw new Error(`half 0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
    }
  });
});

describe('guidance embedding (LCM timestep_cond)', () => {
  it('is sin/cos of (guidance - 1) * 1000 times the frequencies, as diffusers', () => {
    const dim = 8;
    const emb = guidanceEmbedding(8.5, dim);
    const w = 7.5 * 1000;
    for (let i = 0; i < 4; i++) {
      const freq = Math.exp((-Math.log(10000) / 3) * i);
      expect(emb[i]).toBeCloseTo(Math.sin(w * freq), 3);
      expect(emb[4 + i]).toBeCloseTo(Math.cos(w * freq), 3);
    }
    expect(Array.from(guidanceEmbedding(1, 4))).toEqual([0, 0, 1, 1]);
    // an odd size pads one zero at the end
    const odd = guidanceEmbedding(3, 5);
    expect(odd).toHaveLength(5);
    expect(odd[4]).toBe(0);
  });
});

describe('noise', () => {
  it('slerp: 0 is the first noise, 1 the second, and in between keeps the norm', () => {
    const a = seededNoise(1, 4096);
    const b = seededNoise(2, 4096);
    expect(slerp(a, b, 0)).toEqual(a);
    const one = slerp(a, b, 1);
    for (let i = 0; i < 10; i++) expect(one[i]).toBeCloseTo(b[i], 4);
    const norm = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
    expect(norm(slerp(a, b, 0.5)) / norm(a)).toBeCloseTo(1, 1);
    expect(imageNoise(1, 4096)).toEqual(a);
    expect(imageNoise(1, 4096, { seed: 2, amount: 0.25 })).toEqual(slerp(a, b, 0.25));
  });
});

describe('tiling', () => {
  it('tile starts cover the axis with the last tile flush with the end', () => {
    expect(tileStarts(64, 64, 16)).toEqual([0]);
    expect(tileStarts(100, 64, 16)).toEqual([0, 36]);
    expect(tileStarts(128, 64, 16)).toEqual([0, 48, 64]);
    expect(tileStarts(10, 4, 2)).toEqual([0, 2, 4, 6]);
  });

  it('a pointwise model run over blended tiles gives the untiled result', async () => {
    const [C, H, W] = [2, 10, 14];
    const input = Float32Array.from({ length: C * H * W }, (_, i) => Math.sin(i));
    const pointwise = async (t: Float32Array) => t.map((v) => v * 3 + 1);
    const whole = await pointwise(input);
    const tiled = await runTiled(input, C, H, W, { tile: 4, overlap: 2 }, { inPerUnit: 1, outPerUnit: 1, outChannels: C }, pointwise);
    for (let i = 0; i < whole.length; i++) expect(tiled[i]).toBeCloseTo(whole[i], 5);
  });

  it('a 2x nearest-neighbour upsampler over tiles equals the whole-image run', async () => {
    const [C, H, W] = [1, 6, 8];
    const input = Float32Array.from({ length: C * H * W }, (_, i) => i);
    const up = async (t: Float32Array, h: number, w: number) => {
      const out = new Float32Array(4 * h * w);
      for (let y = 0; y < 2 * h; y++) for (let x = 0; x < 2 * w; x++) out[y * 2 * w + x] = t[Math.floor(y / 2) * w + Math.floor(x / 2)];
      return out;
    };
    const whole = await up(input, H, W);
    const tiled = await runTiled(input, C, H, W, { tile: 4, overlap: 2 }, { inPerUnit: 1, outPerUnit: 2, outChannels: 1 }, up);
    for (let i = 0; i < whole.length; i++) expect(tiled[i]).toBeCloseTo(whole[i], 4);
  });
});

describe('ONNX interface without a session', () => {
  it.each(VARIANTS)('reads what onnxruntime reports for $name', async (variant) => {
    const dir = writeTinyModel(root, variant);
    for (const sub of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
      const file = path.join(dir, sub, 'model.onnx');
      const session = await ort.InferenceSession.create(file);
      const strip = (m: readonly ort.InferenceSession.ValueMetadata[]) => m.map((v) => (v.isTensor ? { name: v.name, type: v.type, shape: [...v.shape] } : v));
      const iface = readOnnxInterface(file);
      expect(iface.inputs, `${sub} inputs`).toEqual(strip(session.inputMetadata));
      // onnxruntime reports output shapes after its own shape inference (a declared
      // 'sequence' may come back as 77): names, dtypes and ranks must agree
      const brief = (specs: { name: string; type?: string; shape?: readonly unknown[] }[]) => specs.map((o) => [o.name, o.type, o.shape?.length]);
      expect(brief(iface.outputs), `${sub} outputs`).toEqual(brief(strip(session.outputMetadata) as never));
      expect(iface.externalFiles).toEqual(variant.externalData && sub === 'unet' ? ['weights.pb'] : []);
      await session.release();
    }
  });

  it('knownDims overrides only names whose every use has one known value', () => {
    const dims = knownDims(
      [
        { name: 'sample', type: 'float32', shape: ['batch', 'channels', 'height', 'width'] },
        { name: 'encoder_hidden_states', type: 'float32', shape: ['batch', 'sequence', 'hidden'] },
        { name: 'other', type: 'float32', shape: ['channels', 'height'] },
      ],
      { sample: [undefined, 4], encoder_hidden_states: [undefined, 77, 768], other: [4, 64] },
    );
    // height is known for `other` but free for `sample`: it stays free
    expect(dims).toEqual({ channels: 4, sequence: 77, hidden: 768 });
  });
});

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
