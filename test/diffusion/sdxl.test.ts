/**
 * SDXL folders in every variant Optimum's export produces (fp32 / fp16, int32 / int64 ids,
 * float or int64 timesteps, external data, either class name, none at all), run end to
 * end: txt2img with batching, previews and the parameters chunk, img2img, the hires-fix
 * upscale at SDXL size through the tiled VAE, the safety checker, and the refusals of a
 * folder that lacks an SDXL part, each named.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline, type Pipeline } from '../../worker/diffusion/index.ts';
import { readPngParameters } from '../../worker/diffusion/images.ts';
import { readModelFolder } from '../../worker/diffusion/model-folder.ts';
import { GraphBuilder } from '../../kit/onnx-builder.ts';
import { makeTempDir, SD15_PREPROCESSOR_CONFIG, writeJson, writeTinyModel, writeTinySafetyChecker } from '../../kit/tiny-sd-models.ts';
import { writeTinyXlModel, XL_VARIANTS, type TinyXlVariant } from '../../kit/tiny-sdxl-models.ts';

let root: string;
let counter = 0;
beforeAll(() => {
  root = makeTempDir('sdxl');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const xl = (v: Partial<TinyXlVariant> = {}) => writeTinyXlModel(root, { name: `xl-${counter++}`, ...v });
const base = { prompt: 'a photo of a cat', seed: 5, steps: 3, guidance: 5, n: 1, sampler: 'euler_a' as const };
const pixels = (png: Buffer) => sharp(png).raw().toBuffer();

async function failure(dir: string): Promise<string> {
  try {
    await loadPipeline(dir, { providers: ['cpu'] });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`loadPipeline(${dir}) succeeded`);
}

describe.each(XL_VARIANTS)('SDXL variant $name', (variant) => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await loadPipeline(writeTinyXlModel(root, variant), { providers: ['cpu'] });
  });
  afterAll(() => pipeline.dispose());

  it('txt2img: n images batched, each equal to its own n = 1 run, previews, grid and parameters', async () => {
    const previews: Buffer[] = [];
    const result = await pipeline.generate(
      { ...base, negativePrompt: 'dog', width: 64, height: 48, n: 2 },
      { onProgress: (p) => void p.preview().then((png) => previews.push(png)) },
    );
    expect(result.images.map((i) => [i.seed, i.width, i.height])).toEqual([
      [5, 64, 48],
      [6, 64, 48],
    ]);
    const alone = await pipeline.generate({ ...base, negativePrompt: 'dog', width: 64, height: 48, seed: 6 });
    expect((await pixels(result.images[1].png)).equals(await pixels(alone.images[0].png))).toBe(true);
    expect((await pixels(result.images[0].png)).equals(await pixels(result.images[1].png))).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(previews.length).toBe(3);
    const meta = await sharp(previews[0]).metadata();
    expect([meta.width, meta.height]).toEqual([8, 6]); // latent size
    expect((await sharp(result.grid!).metadata()).width).toBe(128);
    expect(readPngParameters(result.images[1].png)).toMatchObject({ prompt: base.prompt, negativePrompt: 'dog', seed: 6, sampler: 'euler_a', cfgScale: 5, width: 64, height: 48, model: variant.name });
  });

  it('img2img from an attachment of another size and Vary (Subtle) noise blending', async () => {
    const init = await sharp({ create: { width: 90, height: 60, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
    const result = await pipeline.generate({ ...base, width: 64, height: 64, steps: 4, init: { image: init, strength: 0.5 }, noiseBlend: { seed: 99, amount: 0.2 } });
    expect(readPngParameters(result.images[0].png)).toMatchObject({ denoisingStrength: 0.5, variationSeed: 99, variationStrength: 0.2 });
  });
});

describe('SDXL sizes', () => {
  it('U1-U4 without an upscaler model: the hires fix at SDXL sizes, 768 -> 1536 px, past one SDXL VAE tile (1024 px)', async () => {
    const pipeline = await loadPipeline(xl(), { providers: ['cpu'] });
    const source = await pipeline.generate({ ...base, width: 768, height: 768, steps: 2 });
    const up = await pipeline.upscale({ image: source.images[0].png, factor: 2, prompt: base.prompt, seed: 5, steps: 4, guidance: 5, sampler: 'euler' });
    expect([up.images[0].width, up.images[0].height]).toEqual([1536, 1536]);
    const meta = await sharp(up.images[0].png).metadata();
    expect([meta.width, meta.height]).toEqual([1536, 1536]);
    expect(readPngParameters(up.images[0].png)).toMatchObject({ width: 1536, height: 1536, denoisingStrength: 0.3 });
    await pipeline.dispose();
  });

  it('VAE tiles follow the family: SD 64 latent px (512 px), SDXL 128 (1024 px), a quarter overlapping', () => {
    expect(readModelFolder(xl()).family.defaults.vaeTiling).toEqual({ tile: 128, overlap: 32 });
    expect(readModelFolder(writeTinyModel(root, { name: `sd-${counter++}` })).family.defaults.vaeTiling).toEqual({ tile: 64, overlap: 16 });
  });

  it('the default size comes from the configs, else the family (1024)', async () => {
    const dir = xl();
    expect(readModelFolder(dir).defaultSize).toEqual({ width: 64, height: 64 }); // unet sample_size 8 x 8
    fs.rmSync(path.join(dir, 'unet', 'config.json'));
    expect(readModelFolder(dir).defaultSize).toEqual({ width: 1024, height: 1024 });
  });
});

describe('family detection and VAE settings', () => {
  it('reads SDXL from _class_name, from text_encoder_2/ when the class name says nothing, and SD otherwise', () => {
    expect(readModelFolder(xl()).family.name).toBe('SDXL');
    expect(readModelFolder(xl({ className: 'ORTStableDiffusionXLPipeline' })).family.name).toBe('SDXL');
    const unnamed = readModelFolder(xl({ className: null }));
    expect([unnamed.family.name, unnamed.familyReason]).toEqual(['SDXL', 'the folder has text_encoder_2/']);
    expect(readModelFolder(writeTinyModel(root, { name: `sd-${counter++}` })).family.name).toBe('SD');
  });

  it('scaling factor and force_upcast: the VAE config\'s, else the family\'s (SDXL 0.13025 / true, SD 0.18215 / false)', () => {
    const xlDefault = readModelFolder(xl());
    expect([xlDefault.scalingFactor, xlDefault.forceUpcast]).toEqual([0.13025, true]);
    const xlSet = readModelFolder(xl({ scalingFactor: 0.5, forceUpcast: false }));
    expect([xlSet.scalingFactor, xlSet.forceUpcast]).toEqual([0.5, false]);
    const sd = readModelFolder(writeTinyModel(root, { name: `sd-${counter++}` }));
    expect([sd.scalingFactor, sd.forceUpcast]).toEqual([0.18215, false]);
  });

  it('an fp16 VAE that overflows under force_upcast is refused with the fix named, not delivered black', async () => {
    const pipeline = await loadPipeline(xl({ overflowingDecoder: true }), { providers: ['cpu'] });
    await expect(pipeline.generate({ ...base, width: 32, height: 32 })).rejects.toThrow(/float16 VAE decoder overflowed \(NaN\/Inf\), as its config's force_upcast warns; export vae_decoder in float32/);
    await pipeline.dispose();
    const unguarded = await loadPipeline(xl({ overflowingDecoder: true, forceUpcast: false }), { providers: ['cpu'] });
    await expect(unguarded.generate({ ...base, width: 32, height: 32 })).resolves.toBeDefined();
    await unguarded.dispose();
  });

  it('the safety checker runs on SDXL images when the folder has one', async () => {
    const dir = xl();
    writeTinySafetyChecker(path.join(dir, 'safety_checker'), { threshold: -1e6 });
    writeJson(path.join(dir, 'feature_extractor', 'preprocessor_config.json'), SD15_PREPROCESSOR_CONFIG);
    const pipeline = await loadPipeline(dir, { providers: ['cpu'] });
    const result = await pipeline.generate({ ...base, width: 32, height: 32, n: 2 });
    expect(result.images.map((i) => i.nsfw)).toEqual([true, true]);
    await pipeline.dispose();
  });
});

describe('an incomplete SDXL folder is refused, naming what is missing', () => {
  it.each([
    ['text_encoder_2/model.onnx', /\(SDXL, from model_index\.json _class_name "StableDiffusionXLPipeline"\): missing text_encoder_2\/model\.onnx \(the second text encoder/],
    ['tokenizer_2/vocab.json', /missing tokenizer_2\/vocab\.json \(the second tokenizer's vocabulary\)/],
    ['tokenizer_2/merges.txt', /missing tokenizer_2\/merges\.txt/],
  ])('%s', async (rel, message) => {
    const dir = xl();
    fs.rmSync(path.join(dir, rel));
    expect(await failure(dir)).toMatch(message);
  });

  it.each(['text_embeds', 'time_ids'] as const)('a UNet without %s', async (input) => {
    const message = await failure(xl({ omitUNetInputs: [input] }));
    expect(message).toContain('unet/model.onnx');
    expect(message).toContain(`expected an input named "${input}"`);
  });

  it('a text encoder without hidden_states outputs (an SD-style export)', async () => {
    const dir = xl();
    const g = new GraphBuilder('text_encoder');
    g.input('input_ids', 'int32', ['batch', 'sequence']);
    g.op('Cast', ['input_ids'], { to: { int: 1 } }, ['last_hidden_state']);
    g.output('last_hidden_state', 'float32', ['batch', 'sequence', 8]);
    fs.writeFileSync(path.join(dir, 'text_encoder_2', 'model.onnx'), g.build().model);
    const message = await failure(dir);
    expect(message).toContain('text_encoder_2/model.onnx');
    expect(message).toContain('expected outputs hidden_states.0 .. hidden_states.N');
  });

  it('a second text encoder without the pooled text_embeds (the first encoder\'s file in its place)', async () => {
    const dir = xl();
    fs.copyFileSync(path.join(dir, 'text_encoder', 'model.onnx'), path.join(dir, 'text_encoder_2', 'model.onnx'));
    expect(await failure(dir)).toMatch(/text_encoder_2\/model\.onnx: expected an output named "text_embeds"/);
  });

  it('encoders whose widths do not add up to the UNet\'s encoder_hidden_states', async () => {
    expect(await failure(xl({ unetHidden: 16 }))).toMatch(
      /unet\/model\.onnx: encoder_hidden_states has size 16 but the two text encoders' hidden_states\.1 outputs 8 \+ 12 = 20/,
    );
  });

  it('an SDXL folder whose class name is an SD one still needs its SD parts only', async () => {
    // a folder that says OnnxStableDiffusionPipeline is read as SD even with a text_encoder_2/: the class name wins
    const dir = xl({ className: 'OnnxStableDiffusionPipeline' });
    const message = await failure(dir);
    expect(message).toContain('unet/model.onnx');
    expect(message).toContain('unexpected input(s) "text_embeds", "time_ids"');
  });
});
