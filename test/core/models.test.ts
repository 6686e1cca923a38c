/** The models catalog read from real files in a temporary directory. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAMILY_IDENTITIES } from '../../src/model-families.ts';
import { createModelCatalog, loadModelCatalog, ModelCatalogError, readModelFolderDefaults } from '../../src/models.ts';
import { detectFamily, MODEL_FAMILIES } from '../../worker/diffusion/families/index.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imagine-models-'));
const write = (rel: string, value: unknown) => {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
};

beforeAll(() => {
  // A folder that declares its own defaults (the embedded tiny model does this).
  write('tiny/model_index.json', { _class_name: 'StableDiffusionPipeline', imagine: { base_size: 64, size_multiple: 32, default_steps: 20, default_sampler: 'euler_a', default_guidance: 5 } });
  // An SD 2.1-like export: only the UNet's sample size says 768.
  write('SD 2.1 Base/model_index.json', { _class_name: 'StableDiffusionPipeline' });
  write('SD 2.1 Base/unet/config.json', { sample_size: 96 });
  // A bare export: Stable Diffusion 1.x defaults.
  write('plain/model_index.json', { _class_name: 'StableDiffusionPipeline' });
  write('typo/model_index.json', { imagine: { base_sise: 64 } });
  write('badjson/model_index.json', '{ not json');
  write('named/model_index.json', { imagine: { name: 'my-model' } });
  fs.mkdirSync(path.join(root, 'empty'));
  // SDXL exports: the class name or a text_encoder_2/ says SDXL, whose defaults differ from SD's
  write('sdxl-base/model_index.json', { _class_name: 'ORTStableDiffusionXLPipeline' });
  write('sdxl-base/unet/config.json', { sample_size: 128 });
  write('sdxl-unnamed/model_index.json', {});
  write('sdxl-unnamed/text_encoder_2/config.json', {});
  write('sdxl-turbo/model_index.json', { _class_name: 'StableDiffusionXLPipeline', imagine: { base_size: 512, default_steps: 1, default_sampler: 'euler_a', default_guidance: 0 } });
  // the embedded SDXL-format demo model, when its folder is there
  write('tiny-xl/model_index.json', { _class_name: 'StableDiffusionXLPipeline', imagine: { base_size: 64, size_multiple: 32 } });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('model folder defaults', () => {
  it('reads the "imagine" key, else unet sample_size × 8, else SD defaults', () => {
    expect(readModelFolderDefaults(path.join(root, 'tiny'))).toEqual({ name: undefined, baseSize: 64, sizeMultiple: 32, defaultSteps: 20, defaultSampler: 'euler_a', defaultGuidance: 5 });
    expect(readModelFolderDefaults(path.join(root, 'SD 2.1 Base'))).toEqual({ name: undefined, baseSize: 768, sizeMultiple: 64, defaultSteps: 25, defaultSampler: 'dpmpp_2m', defaultGuidance: 7 });
    expect(readModelFolderDefaults(path.join(root, 'plain'))).toEqual({ name: undefined, baseSize: 512, sizeMultiple: 64, defaultSteps: 25, defaultSampler: 'dpmpp_2m', defaultGuidance: 7 });
  });

  it('an SDXL folder without an "imagine" key gets SDXL\'s defaults; the key still wins', () => {
    const sdxl = { name: undefined, baseSize: 1024, sizeMultiple: 64, defaultSteps: 30, defaultSampler: 'dpmpp_2m', defaultGuidance: 5 };
    expect(readModelFolderDefaults(path.join(root, 'sdxl-base'))).toEqual(sdxl);
    expect(readModelFolderDefaults(path.join(root, 'sdxl-unnamed'))).toEqual(sdxl);
    expect(readModelFolderDefaults(path.join(root, 'sdxl-turbo'))).toEqual({ ...sdxl, baseSize: 512, defaultSteps: 1, defaultSampler: 'euler_a', defaultGuidance: 0 });
  });

  it("the catalog's families are the pipeline's, in the same order, with the same recognition and settings", () => {
    expect(MODEL_FAMILIES.map((f) => f.name)).toEqual(FAMILY_IDENTITIES.map((f) => f.name));
    for (const [i, family] of MODEL_FAMILIES.entries()) {
      const identity = FAMILY_IDENTITIES[i];
      expect(family.classNames).toEqual(identity.classNames);
      expect(family.folderMarkers).toEqual(identity.folderMarkers);
      expect(family.defaults).toMatchObject(identity.defaults);
    }
    // the pipeline recognizes each folder as the catalog does
    expect(detectFamily(path.join(root, 'sdxl-unnamed'), {})).toEqual({ family: MODEL_FAMILIES[0], reason: 'the folder has text_encoder_2/' });
    expect(detectFamily(path.join(root, 'plain'), { _class_name: 'StableDiffusionPipeline' }).family.name).toBe('SD');
    expect(detectFamily(path.join(root, 'sdxl-base'), { _class_name: 'ORTStableDiffusionXLPipeline' }).reason).toBe('model_index.json _class_name "ORTStableDiffusionXLPipeline"');
    expect(detectFamily(path.join(root, 'empty'), {}).reason).toBe('no other family matched (Stable Diffusion layout)');
  });

  it('names the file in every error', () => {
    expect(() => readModelFolderDefaults(path.join(root, 'typo'))).toThrow(`${path.join(root, 'typo', 'model_index.json')}: "imagine".`);
    expect(() => readModelFolderDefaults(path.join(root, 'typo'))).toThrow(/base_sise/);
    expect(() => readModelFolderDefaults(path.join(root, 'badjson'))).toThrow(`${path.join(root, 'badjson', 'model_index.json')}: not valid JSON`);
    expect(() => readModelFolderDefaults(path.join(root, 'empty'))).toThrow(`${path.join(root, 'empty', 'model_index.json')}: file not found`);
  });
});

describe('loadModelCatalog', () => {
  it('MODEL_DIR: one model named after its folder', () => {
    const catalog = loadModelCatalog({ MODEL_DIR: path.join(root, 'SD 2.1 Base') });
    expect(catalog.models).toEqual([
      { name: 'sd-2.1-base', dir: path.join(root, 'SD 2.1 Base'), baseSize: 768, sizeMultiple: 64, defaultSteps: 25, defaultSampler: 'dpmpp_2m', defaultGuidance: 7, maxTokens: 75 },
    ]);
    expect(catalog.defaultModel.name).toBe('sd-2.1-base');
    expect(loadModelCatalog({ MODEL_DIR: path.join(root, 'named') }).names()).toEqual(['my-model']);
  });

  it('without MODEL_DIR: the embedded model folder', () => {
    const catalog = loadModelCatalog({}, path.join(root, 'tiny'), []);
    expect(catalog.defaultModel).toEqual({ name: 'tiny', dir: path.join(root, 'tiny'), baseSize: 64, sizeMultiple: 32, defaultSteps: 20, defaultSampler: 'euler_a', defaultGuidance: 5, maxTokens: 75 });
    expect(catalog.names()).toEqual(['tiny']);
  });

  it('without MODEL_DIR: tiny-xl beside tiny (still the default) only when its folder is there', () => {
    const catalog = loadModelCatalog({}, path.join(root, 'tiny'), [path.join(root, 'tiny-xl')]);
    expect(catalog.names()).toEqual(['tiny', 'tiny-xl']);
    expect(catalog.defaultModel.name).toBe('tiny');
    expect(catalog.get('tiny-xl')).toMatchObject({ dir: path.join(root, 'tiny-xl'), baseSize: 64, sizeMultiple: 32, defaultSteps: 30, defaultGuidance: 5 });
    expect(loadModelCatalog({}, path.join(root, 'tiny'), [path.join(root, 'no-such-tiny-xl')]).names()).toEqual(['tiny']);
    // MODEL_DIR names the one model: the embedded ones are not added
    expect(loadModelCatalog({ MODEL_DIR: path.join(root, 'plain') }, path.join(root, 'tiny'), [path.join(root, 'tiny-xl')]).names()).toEqual(['plain']);
  });

  it('MODELS_CONFIG: folders relative to the file, per-model overrides, a default, case-insensitive lookup', () => {
    const file = write('conf/models.json', {
      models: [
        { name: 'tiny', dir: '../tiny' },
        { name: 'sd21', dir: '../SD 2.1 Base', defaultSteps: 30, defaultSampler: 'euler' },
        { name: 'sd15', dir: path.join(root, 'plain'), baseSize: 512, defaultGuidance: 7.5 },
      ],
      default: 'sd21',
    });
    const catalog = loadModelCatalog({ MODELS_CONFIG: file, MODEL_DIR: path.join(root, 'plain') });
    expect(catalog.names()).toEqual(['tiny', 'sd21', 'sd15']);
    expect(catalog.defaultModel).toEqual({ name: 'sd21', dir: path.join(root, 'SD 2.1 Base'), baseSize: 768, sizeMultiple: 64, defaultSteps: 30, defaultSampler: 'euler', defaultGuidance: 7, maxTokens: 75 });
    expect(catalog.get('SD15')).toEqual({ name: 'sd15', dir: path.join(root, 'plain'), baseSize: 512, sizeMultiple: 64, defaultSteps: 25, defaultSampler: 'dpmpp_2m', defaultGuidance: 7.5, maxTokens: 75 });
    expect(catalog.get('sdxl')).toBeUndefined();
  });

  it.each([
    ['no models', { models: [] }, 'models: '],
    ['an unknown key', { models: [{ name: 'a', dir: '../tiny', steps: 3 }] }, 'Unrecognized key'],
    ['a bad name', { models: [{ name: 'Big Model', dir: '../tiny' }] }, 'models.0.name: a model name'],
    ['an unknown sampler', { models: [{ name: 'a', dir: '../tiny', defaultSampler: 'heun' }] }, 'models.0.defaultSampler'],
    ['a size not a multiple of 8', { models: [{ name: 'a', dir: '../tiny', baseSize: 100 }] }, 'models.0.baseSize'],
    ['a duplicate name', { models: [{ name: 'a', dir: '../tiny' }, { name: 'a', dir: '../plain' }] }, 'model name "a" is used twice'],
    ['an unknown default', { models: [{ name: 'a', dir: '../tiny' }], default: 'b' }, 'default model "b" is not one of a'],
    ['a missing folder', { models: [{ name: 'a', dir: '../nowhere' }] }, `${path.join(root, 'nowhere', 'model_index.json')}: file not found`],
  ])('MODELS_CONFIG with %s fails naming the file', (name, content, detail) => {
    const file = write(`conf/${name.replace(/\W+/g, '-')}.json`, content);
    let error: unknown;
    try {
      loadModelCatalog({ MODELS_CONFIG: file });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ModelCatalogError);
    expect((error as Error).message).toContain(detail);
    if (!detail.includes('nowhere')) expect((error as Error).message.startsWith(`${file}: `)).toBe(true);
  });

  it('a MODELS_CONFIG that is missing or not JSON', () => {
    expect(() => loadModelCatalog({ MODELS_CONFIG: path.join(root, 'none.json') })).toThrow(`${path.join(root, 'none.json')}: file not found`);
    const file = write('conf/broken.json', '{"models": [');
    expect(() => loadModelCatalog({ MODELS_CONFIG: file })).toThrow(`${file}: not valid JSON`);
  });

  it('createModelCatalog refuses an empty list', () => {
    expect(() => createModelCatalog([])).toThrow('no models configured');
  });
});
