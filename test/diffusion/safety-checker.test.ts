/**
 * The model folder's safety checker: CLIP's image preparation, the verdict read from a real
 * ONNX model with SD's checker interface, and the verdicts carried on every image the pipeline
 * returns (txt2img, batches, model upscaling), absent when the folder has no checker.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline, type GenerateRequest } from '../../worker/diffusion/index.ts';
import { checkSafetyChecker } from '../../worker/diffusion/model-contract.ts';
import { readModelFolder } from '../../worker/diffusion/model-folder.ts';
import { readOnnxInterface } from '../../worker/diffusion/onnx-header.ts';
import { CLIP_PREPROCESSING, SafetyChecker, clipInput, readClipPreprocessing } from '../../worker/diffusion/safety-checker.ts';
import { OnnxModel, RunClock } from '../../worker/diffusion/sessions.ts';
import { GraphBuilder } from '../../kit/onnx-builder.ts';
import { makeTempDir, SD15_PREPROCESSOR_CONFIG, writeTinyModel, writeTinySafetyChecker, writeTinyUpscaler } from '../../kit/tiny-sd-models.ts';

let root: string;
beforeAll(() => {
  root = makeTempDir('safety-checker');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const solid = (width: number, height: number, [r, g, b]: [number, number, number]) => {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set([r, g, b], i * 3);
  return rgb;
};

/** CLIP's normalisation of one solid colour, worked out by hand from the published constants. */
const normalised = (v: number, c: number) => (v / 255 - CLIP_PREPROCESSING.mean[c]) / CLIP_PREPROCESSING.std[c];
const meanOfSolid = (rgb: [number, number, number]) => (normalised(rgb[0], 0) + normalised(rgb[1], 1) + normalised(rgb[2], 2)) / 3;

async function checker(dir: string, float16 = false, threshold = 0): Promise<SafetyChecker> {
  writeTinySafetyChecker(dir, { threshold, float16 });
  const file = path.join(dir, 'model.onnx');
  const model = await OnnxModel.load(file, 'safety_checker', { providers: ['cpu'] }, new RunClock());
  return new SafetyChecker(model, checkSafetyChecker('safety_checker', readOnnxInterface(file)));
}

describe('CLIP image preparation', () => {
  it("reads both of transformers' spellings of the sizes, and falls back to CLIP's own", () => {
    // As the pipeline reads it: from the model folder's feature_extractor/
    let folders = 0;
    const read = (json: unknown) => {
      const dir = writeTinyModel(root, { name: `preprocessor-${folders++}`, safetyChecker: { threshold: 0 } });
      fs.writeFileSync(path.join(dir, 'feature_extractor', 'preprocessor_config.json'), JSON.stringify(json));
      return readClipPreprocessing(readModelFolder(dir).featureExtractorConfig, 'preprocessor_config.json');
    };
    expect(read(SD15_PREPROCESSOR_CONFIG)).toEqual(CLIP_PREPROCESSING);
    const modern = read({ ...SD15_PREPROCESSOR_CONFIG, size: { shortest_edge: 256 }, crop_size: { height: 240, width: 200 } });
    expect(modern).toMatchObject({ shortEdge: 256, crop: { width: 200, height: 240 } });
    const withoutConfig = writeTinyModel(root, { name: 'no-preprocessor', safetyChecker: { threshold: 0 } });
    fs.rmSync(path.join(withoutConfig, 'feature_extractor'), { recursive: true });
    expect(readClipPreprocessing(readModelFolder(withoutConfig).featureExtractorConfig, 'none')).toEqual(CLIP_PREPROCESSING);
    expect(read({ ...SD15_PREPROCESSOR_CONFIG, do_normalize: false })).toMatchObject({ mean: [0, 0, 0], std: [1, 1, 1] });
    expect(() => read({ size: 224, crop_size: 300 })).toThrow(/^preprocessor_config\.json: crop_size 300x300 is larger than the resized short side 224/);
  });

  it('normalises each channel with its own mean and deviation, planar [3, 224, 224]', async () => {
    const x = await clipInput(solid(64, 64, [128, 64, 200]), 64, 64, CLIP_PREPROCESSING);
    expect(x.length).toBe(3 * 224 * 224);
    const plane = 224 * 224;
    for (const [c, v] of [128, 64, 200].entries()) {
      expect(x[c * plane + 777]).toBeCloseTo(normalised(v, c), 4);
      expect(x[c * plane + plane - 1]).toBeCloseTo(normalised(v, c), 4);
    }
  });

  it('resizes the short side and keeps the centre: a wide picture loses its left and right quarters', async () => {
    // 128x64 resized to 448x224; the centre crop is columns 112..335 of that, 32..95 of the source.
    const width = 128;
    const height = 64;
    const picture = (white: (x: number) => boolean) => {
      const rgb = solid(width, height, [0, 0, 0]);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (white(x)) rgb.set([255, 255, 255], (y * width + x) * 3);
      return rgb;
    };
    const column = (t: Float32Array, x: number) => t[100 * 224 + x];
    // white in the left eighth (source columns 0..15): all of it is cut away
    const edge = await clipInput(picture((x) => x < 16), width, height, CLIP_PREPROCESSING);
    let worst = 0;
    for (let i = 0; i < 224 * 224; i++) worst = Math.max(worst, Math.abs(edge[i] - normalised(0, 0)));
    expect(worst).toBeLessThan(0.05);
    // white in the middle (source 56..71 -> crop columns 84..139): kept, in the middle of the crop
    const middle = await clipInput(picture((x) => x >= 56 && x < 72), width, height, CLIP_PREPROCESSING);
    expect(column(middle, 112)).toBeCloseTo(normalised(255, 0), 2);
    expect(column(middle, 20)).toBeCloseTo(normalised(0, 0), 2);
    expect(column(middle, 200)).toBeCloseTo(normalised(0, 0), 2);
  });
});

describe('the safety checker model', () => {
  it('gives one verdict per image from what it was shown (fp32 and fp16 exports)', async () => {
    const colours: [number, number, number][] = [
      [255, 255, 255],
      [0, 0, 0],
      [128, 128, 128],
      [110, 110, 110],
    ];
    // by hand: white and mid grey lie above the CLIP mean, black and a darker grey below
    expect(colours.map((c) => meanOfSolid(c) > 0)).toEqual([true, false, true, false]);
    for (const float16 of [false, true]) {
      const c = await checker(path.join(root, float16 ? 'checker-fp16' : 'checker-fp32'), float16);
      const verdicts = await c.check(colours.map((rgb) => solid(48, 80, rgb)), 48, 80);
      expect(verdicts, float16 ? 'fp16' : 'fp32').toEqual([true, false, true, false]);
    }
  });

  it('a checker without the interface SD exports have fails the folder with the file named', async () => {
    const dir = writeTinyModel(root, { name: 'bad-checker', safetyChecker: { threshold: 0 } });
    const g = new GraphBuilder('not-a-checker');
    const clip = g.input('clip_input', 'float32', ['batch', 3, 224, 224]);
    g.op('Identity', [clip], {}, ['scores']);
    g.output('scores', 'float32', ['batch', 3, 224, 224]);
    fs.writeFileSync(path.join(dir, 'safety_checker', 'model.onnx'), g.build().model);
    await expect(loadPipeline(dir, { providers: ['cpu'] })).rejects.toThrow(/safety_checker\/model\.onnx: expected an input named "images"/);
  });
});

describe('verdicts on what the pipeline returns', () => {
  const req: GenerateRequest = { prompt: 'a cat', seed: 3, steps: 2, guidance: 7, width: 64, height: 64, n: 2, sampler: 'euler' };

  it('every image carries the verdict when the folder has a checker; none when it has not', async () => {
    const cases = [
      { name: 'flags-all', safetyChecker: { threshold: -1e6 }, expected: [true, true] },
      { name: 'flags-none', safetyChecker: { threshold: 1e6 }, expected: [false, false] },
      { name: 'no-checker', safetyChecker: undefined, expected: [undefined, undefined] },
    ];
    for (const c of cases) {
      const p = await loadPipeline(writeTinyModel(root, { name: c.name, safetyChecker: c.safetyChecker }), { providers: ['cpu'] });
      try {
        const out = await p.generate(req);
        expect(out.images.map((i) => i.nsfw), c.name).toEqual(c.expected);
        // batched with another request, each keeps its own verdicts
        const both = await p.generateEach([req, { ...req, seed: 9, n: 1 }], [{}, {}]);
        expect(both.map((r) => (r.status === 'fulfilled' ? r.value.images.map((i) => i.nsfw) : r.reason)), c.name).toEqual([c.expected, c.expected.slice(0, 1)]);
      } finally {
        await p.dispose();
      }
    }
  });

  it('an image upscaled by a model keeps the verdict of what it shows', async () => {
    const dir = writeTinyModel(root, { name: 'upscale-flags', safetyChecker: { threshold: 0 } });
    const p = await loadPipeline(dir, { providers: ['cpu'], upscalerDir: writeTinyUpscaler(path.join(root, 'upscaler')) });
    try {
      for (const [colour, flagged] of [
        [[250, 250, 250], true],
        [[10, 10, 10], false],
      ] as const) {
        const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } }).png().toBuffer();
        const out = await p.upscale({ image, factor: 2, prompt: 'a cat', seed: 1, steps: 2, guidance: 7, sampler: 'euler' });
        expect(out.images[0].width).toBe(128);
        expect(out.images[0].nsfw, `colour ${colour}`).toBe(flagged);
      }
    } finally {
      await p.dispose();
    }
  });
});
