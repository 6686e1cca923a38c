/**
 * The embedded demo model (models/tiny), run through the product's own pipeline, draws what it
 * is asked. Only a model that learned something and a pipeline that runs it correctly pass
 * these: a wrong scheduler, a dropped guidance half or a mangled VAE decode all still produce
 * images, but not images whose pixels match their captions.
 *
 * Captions are scored by pixel statistics (test/support/tiny-model-check.ts), the same rules
 * models/tiny/train/README.md reports its figures with. Held-out combinations are
 * (shape, colour, background) triples the model never saw in training.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, loadPipeline, type GenerateRequest, type Pipeline } from '../../worker/diffusion/index.ts';
import type { SchedulerName } from '../../worker/diffusion/schedulers/index.ts';
import {
  COLOR_NAMES,
  HELD_OUT_REQUEST,
  HELD_OUT_THRESHOLDS as HELD_OUT,
  accuracyFailures as failures,
  accuracySummary as summary,
  scoreScenes as scoreTiny,
  SHAPES,
  TINY_MODEL_DIR,
  checkImage,
  colorShare,
  decodeRgb,
  heldOutCombinations,
  meanPixelDistance,
  splitGrid,
  type Accuracy,
  type SceneCaption,
} from '../support/tiny-model-check.ts';

const base = HELD_OUT_REQUEST;

// Accuracy is asserted at the model's default guidance 2: it follows captions best at 1.5-2; from 4
// up the guided difference overshoots and bends shapes (colours stay right), so guidance 5 is
// compared with 1 on colours. 96x64, first 12 held-out combinations, measured: 1.00 / 1.00 / 1.00.
const HELD_OUT_WIDE = { background: 0.9, shapeColor: 0.8, shape: 0.8 };
/** A held-out caption every sampler draws right (both images of n = 2, seeds 1 and 2). */
const SAMPLER_PROMPT = 'a black triangle on a blue background';
/** --no red on a prompt that asks for red, at guidance 5: measured red share 0.166 -> 0.001. */
const NEGATIVE_PROMPT_CASE = { prompt: 'a red square on a white background', guidance: 5, minRedWithout: 0.08, maxRatio: 0.5 };
/** Mean absolute pixel difference (0..255) allowed between a source and its subtle variation (measured ~0.1). */
const SUBTLE_MAX_DISTANCE = 1;

let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = await loadPipeline(TINY_MODEL_DIR, { providers: ['cpu'], maxBatch: 36 });
});
afterAll(() => pipeline?.dispose());

const scoreScenes = (scenes: SceneCaption[], overrides: Partial<GenerateRequest> = {}) => scoreTiny(pipeline, scenes, overrides);

describe('embedded model folder', () => {
  it('is a Stable Diffusion ONNX export under 30 MB that the pipeline loads', () => {
    const index = JSON.parse(fs.readFileSync(path.join(TINY_MODEL_DIR, 'model_index.json'), 'utf8'));
    expect(index._class_name).toBe('OnnxStableDiffusionPipeline');
    let bytes = 0;
    for (const sub of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
      bytes += fs.statSync(path.join(TINY_MODEL_DIR, sub, 'model.onnx')).size;
    }
    expect(bytes).toBeLessThan(30 * 1024 * 1024);
    expect(pipeline.defaultSize).toEqual({ width: 64, height: 64 });
    expect(pipeline.canImg2Img).toBe(true);
  });

  it("reads its own CLIP-format vocabulary with the product's tokenizer: one token per caption word", () => {
    const tokenizer = ClipTokenizer.fromModelDir(path.join(TINY_MODEL_DIR, 'tokenizer'));
    const vocab = JSON.parse(fs.readFileSync(path.join(TINY_MODEL_DIR, 'tokenizer', 'vocab.json'), 'utf8')) as Record<string, number>;
    const words = [...COLOR_NAMES, ...SHAPES, 'small', 'large', 'a', 'an', 'on', 'background', 'at', 'the', 'in', 'center', 'top', 'bottom', 'left', 'right'];
    for (const word of words) expect(tokenizer.encode(word), word).toEqual([vocab[`${word}</w>`]]);
    const size = Object.keys(vocab).length;
    const ids = tokenizer.inputIds('a red circle on a blue background');
    expect(ids).toHaveLength(77);
    expect(ids.slice(0, 9)).toEqual([size - 2, vocab['a</w>'], vocab['red</w>'], vocab['circle</w>'], vocab['on</w>'], vocab['a</w>'], vocab['blue</w>'], vocab['background</w>'], size - 1]);
    expect(new Set(ids.slice(8))).toEqual(new Set([size - 1]));
  });
});

describe('prompt following on held-out caption combinations', () => {
  const held = heldOutCombinations();

  it('has at least 24 held-out combinations covering every shape', () => {
    expect(held.length).toBeGreaterThanOrEqual(24);
    expect(new Set(held.map((h) => h.shape))).toEqual(new Set(SHAPES));
  });

  it('draws the asked background, shape colour and shape', async () => {
    const acc = await scoreScenes(held);
    console.info(`held-out (${held.length}): ${summary(acc)}`);
    expect(acc.background, failures(acc)).toBeGreaterThanOrEqual(HELD_OUT.background);
    expect(acc.shapeColor, failures(acc)).toBeGreaterThanOrEqual(HELD_OUT.shapeColor);
    expect(acc.shape, failures(acc)).toBeGreaterThanOrEqual(HELD_OUT.shape);
  });

  it('CFG 5 gets background and shape colour right at least as often as CFG 1 (DDIM; measured 31 vs 21 of 36)', async () => {
    const ddim = { sampler: 'ddim' as SchedulerName };
    const cfg5 = await scoreScenes(held, { ...ddim, guidance: 5 });
    const cfg1 = await scoreScenes(held, { ...ddim, guidance: 1 });
    console.info(`held-out DDIM CFG 5: ${summary(cfg5)}; CFG 1: ${summary(cfg1)}`);
    const colours = (a: Accuracy) => a.checks.filter((c) => c.backgroundOk && c.shapeColorOk).length;
    expect(colours(cfg5)).toBeGreaterThanOrEqual(colours(cfg1));
    expect(colours(cfg5)).toBeGreaterThanOrEqual(Math.ceil(0.75 * held.length));
  });

  it('works on non-square canvases (--ar 3:2 gives 96x64)', async () => {
    const wide = await scoreScenes(held.slice(0, 12), { width: 96, height: 64 });
    for (const c of wide.checks) expect(c.details.bbox).not.toBeNull();
    expect(wide.background, failures(wide)).toBeGreaterThanOrEqual(HELD_OUT_WIDE.background);
    expect(wide.shapeColor, failures(wide)).toBeGreaterThanOrEqual(HELD_OUT_WIDE.shapeColor);
    expect(wide.shape, failures(wide)).toBeGreaterThanOrEqual(HELD_OUT_WIDE.shape);
  });
});

describe('guidance, samplers and variations', () => {
  it('a negative prompt steers away: --no red lowers the red share', async () => {
    const prompt = NEGATIVE_PROMPT_CASE.prompt;
    const plain = await pipeline.generate({ ...base, guidance: NEGATIVE_PROMPT_CASE.guidance, prompt, n: 8 });
    const steered = await pipeline.generate({ ...base, guidance: NEGATIVE_PROMPT_CASE.guidance, prompt, negativePrompt: 'red', n: 8 });
    const redShare = async (images: { png: Buffer }[]) => {
      let sum = 0;
      for (const im of images) sum += colorShare(await decodeRgb(im.png), 'red');
      return sum / images.length;
    };
    const before = await redShare(plain.images);
    const after = await redShare(steered.images);
    console.info(`red share for "${prompt}": ${before.toFixed(3)} without, ${after.toFixed(3)} with --no red`);
    expect(before).toBeGreaterThan(NEGATIVE_PROMPT_CASE.minRedWithout);
    expect(after).toBeLessThan(before * NEGATIVE_PROMPT_CASE.maxRatio);
  });

  it.each([
    ['ddim', 25],
    ['pndm', 25],
    ['euler', 20],
    ['euler_a', 20],
    ['dpmpp_2m', 15],
    ['dpmpp_2m_karras', 15],
  ] as [SchedulerName, number][])('%s with %i steps draws a correct image', async (sampler, steps) => {
    const result = await pipeline.generate({ ...base, prompt: SAMPLER_PROMPT, sampler, steps, n: 2 });
    const tiles = await splitGrid(result.grid!, 2, 1);
    expect(tiles).toHaveLength(2);
    for (const tile of tiles) {
      const check = await checkImage(tile, SAMPLER_PROMPT);
      expect([check.backgroundOk, check.shapeColorOk, check.shapeOk], JSON.stringify(check.details)).toEqual([true, true, true]);
    }
  });

  it('the same seed gives the same bytes, another seed another image', async () => {
    const req = { ...base, prompt: SAMPLER_PROMPT, n: 1 };
    const a = await pipeline.generate(req);
    const b = await pipeline.generate(req);
    const c = await pipeline.generate({ ...req, seed: req.seed + 100 });
    expect(a.images[0].png.equals(b.images[0].png)).toBe(true);
    expect(a.images[0].png.equals(c.images[0].png)).toBe(false);
  });

  it('a strong variation (img2img at strength 0.6, new seed) keeps the caption; a subtle one stays close to its source', async () => {
    const prompt = SAMPLER_PROMPT;
    const source = (await pipeline.generate({ ...base, prompt, seed: 7 })).images[0].png;
    const strong = await pipeline.generate({ ...base, prompt, seed: 1234, n: 4, init: { image: source, strength: 0.6 } });
    for (const im of strong.images) {
      const check = await checkImage(im.png, prompt);
      expect([check.backgroundOk, check.shapeColorOk], JSON.stringify(check.details)).toEqual([true, true]);
    }
    const subtle = (await pipeline.generate({ ...base, prompt, seed: 7, noiseBlend: { seed: 99, amount: 0.25 } })).images[0].png;
    const fresh = (await pipeline.generate({ ...base, prompt, seed: 99 })).images[0].png;
    const src = await decodeRgb(source);
    const dSubtle = meanPixelDistance(src, await decodeRgb(subtle));
    const dFresh = meanPixelDistance(src, await decodeRgb(fresh));
    console.info(`mean pixel distance to the source: subtle ${dSubtle.toFixed(2)}, fresh seed ${dFresh.toFixed(2)}`);
    expect(dSubtle).toBeLessThan(SUBTLE_MAX_DISTANCE);
    expect(dSubtle).toBeLessThan(dFresh / 2);
  });
});
