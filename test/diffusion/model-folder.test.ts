/**
 * A broken model folder fails in loadPipeline, before any session runs, with a message
 * that names the file and what was expected there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline } from '../../worker/diffusion/index.ts';
import { GraphBuilder, type Dim, type DType } from '../../kit/onnx-builder.ts';
import { makeTempDir, writeTinyModel } from '../../kit/tiny-sd-models.ts';

let root: string;
let counter = 0;
beforeAll(() => {
  root = makeTempDir('sd-bad-folders');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A fresh good folder, then `breakIt` damages it. */
function folder(breakIt: (dir: string) => void): string {
  const dir = writeTinyModel(root, { name: `model-${counter++}` });
  breakIt(dir);
  return dir;
}

/** An ONNX file with exactly this interface (outputs wired to the first input; never run). */
function writeInterface(file: string, inputs: [string, DType, Dim[]][], outputs: [string, DType, Dim[]][]) {
  const g = new GraphBuilder('stub');
  for (const [name, dtype, shape] of inputs) g.input(name, dtype, shape);
  for (const [name, dtype, shape] of outputs) {
    g.op('Identity', [inputs[0][0]], {}, [name]);
    g.output(name, dtype, shape);
  }
  fs.writeFileSync(file, g.build().model);
}

const UNET_OK: [string, DType, Dim[]][] = [
  ['sample', 'float32', ['batch', 4, 'h', 'w']],
  ['timestep', 'int64', ['batch']],
  ['encoder_hidden_states', 'float32', ['batch', 77, 8]],
];
const UNET_OUT: [string, DType, Dim[]][] = [['out_sample', 'float32', ['batch', 4, 'h', 'w']]];

async function failure(dir: string): Promise<string> {
  try {
    await loadPipeline(dir);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`loadPipeline(${dir}) succeeded`);
}

describe('missing files', () => {
  it('a folder that does not exist', async () => {
    expect(await failure(path.join(root, 'nope'))).toMatch(/nope does not exist/);
  });

  it.each([
    ['model_index.json', /missing model_index\.json/],
    ['unet/model.onnx', /missing unet\/model\.onnx \(the UNet exported to ONNX\)/],
    ['text_encoder/model.onnx', /missing text_encoder\/model\.onnx/],
    ['vae_decoder/model.onnx', /missing vae_decoder\/model\.onnx/],
    ['tokenizer/merges.txt', /missing tokenizer\/merges\.txt/],
    ['tokenizer/vocab.json', /missing tokenizer\/vocab\.json/],
    ['scheduler/scheduler_config.json', /missing scheduler\/scheduler_config\.json/],
  ])('%s', async (rel, message) => {
    expect(await failure(folder((dir) => fs.rmSync(path.join(dir, rel))))).toMatch(message);
  });

  it('the external weights of an external-data UNet', async () => {
    const dir = writeTinyModel(root, { name: `model-${counter++}`, externalData: true });
    fs.rmSync(path.join(dir, 'unet', 'weights.pb'));
    const message = await failure(dir);
    expect(message).toMatch(/unet\/model\.onnx keeps its weights in weights\.pb, which is missing: expected unet\/weights\.pb/);
  });
});

describe('unreadable files', () => {
  it.each([
    ['model_index.json', /model_index\.json is not valid JSON/],
    ['scheduler/scheduler_config.json', /scheduler\/scheduler_config\.json is not valid JSON \(expected the scheduler config/],
    ['vae_decoder/config.json', /vae_decoder\/config\.json is not valid JSON/],
    ['unet/config.json', /unet\/config\.json is not valid JSON/],
    ['tokenizer/vocab.json', /tokenizer\/vocab\.json is not valid JSON/],
    ['tokenizer/tokenizer_config.json', /tokenizer\/tokenizer_config\.json is not valid JSON/],
  ])('bad JSON in %s', async (rel, message) => {
    expect(await failure(folder((dir) => fs.writeFileSync(path.join(dir, rel), '{"truncated": ')))).toMatch(message);
  });

  it('a JSON array where an object belongs', async () => {
    expect(await failure(folder((dir) => fs.writeFileSync(path.join(dir, 'scheduler', 'scheduler_config.json'), '[1, 2]')))).toMatch(
      /scheduler\/scheduler_config\.json holds no JSON object/,
    );
  });

  it('a scheduler config with a value the schedulers do not know', async () => {
    const message = await failure(
      folder((dir) => fs.writeFileSync(path.join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify({ beta_schedule: 'cosine' }))),
    );
    expect(message).toContain('scheduler/scheduler_config.json');
    expect(message).toContain('beta_schedule');
  });

  it('a scaling_factor that is not a positive number', async () => {
    const message = await failure(
      folder((dir) => fs.writeFileSync(path.join(dir, 'vae_decoder', 'config.json'), JSON.stringify({ scaling_factor: 'big' }))),
    );
    expect(message).toMatch(/vae_decoder\/config\.json has "scaling_factor": "big" \(expected a positive number\)/);
  });

  it('a model.onnx that is not ONNX', async () => {
    const message = await failure(folder((dir) => fs.writeFileSync(path.join(dir, 'unet', 'model.onnx'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))));
    expect(message).toMatch(/unet\/model\.onnx is not a readable ONNX model/);
  });
});

describe('wrong input/output names and dtypes', () => {
  const unet = (dir: string) => path.join(dir, 'unet', 'model.onnx');

  it('timestep of an unsupported dtype', async () => {
    const message = await failure(
      folder((dir) => writeInterface(unet(dir), [UNET_OK[0], ['timestep', 'float64', ['batch']], UNET_OK[2]], UNET_OUT)),
    );
    expect(message).toMatch(/unet\/model\.onnx: input "timestep" is float64, expected int64 or int32 or float32 or float16/);
  });

  it('a UNet without an input named sample', async () => {
    const message = await failure(
      folder((dir) => writeInterface(unet(dir), [['x', 'float32', ['batch', 4, 'h', 'w']], UNET_OK[1], UNET_OK[2]], UNET_OUT)),
    );
    expect(message).toMatch(/unet\/model\.onnx: expected an input named "sample" \(float32 or float16\); the file has inputs x \(float32 \[batch, 4, h, w\]\)/);
  });

  it('a UNet with an input the pipeline cannot feed (an SDXL UNet)', async () => {
    const message = await failure(folder((dir) => writeInterface(unet(dir), [...UNET_OK, ['text_embeds', 'float32', ['batch', 1280]]], UNET_OUT)));
    expect(message).toMatch(/unet\/model\.onnx: unexpected input\(s\) "text_embeds"/);
  });

  it('a UNet with a fixed batch size', async () => {
    const message = await failure(folder((dir) => writeInterface(unet(dir), [['sample', 'float32', [2, 4, 'h', 'w']], UNET_OK[1], UNET_OK[2]], UNET_OUT)));
    expect(message).toMatch(/unet\/model\.onnx: input "sample" has a fixed batch size of 2/);
  });

  it('a UNet sample of the wrong rank', async () => {
    const message = await failure(folder((dir) => writeInterface(unet(dir), [['sample', 'float32', ['batch', 4, 'hw']], UNET_OK[1], UNET_OK[2]], UNET_OUT)));
    expect(message).toMatch(/unet\/model\.onnx: input "sample" has rank 3, expected rank 4/);
  });

  it('text encoder ids as floats', async () => {
    const message = await failure(
      folder((dir) =>
        writeInterface(path.join(dir, 'text_encoder', 'model.onnx'), [['input_ids', 'float32', ['batch', 77]]], [['last_hidden_state', 'float32', ['batch', 77, 8]]]),
      ),
    );
    expect(message).toMatch(/text_encoder\/model\.onnx: input "input_ids" is float32, expected int32 or int64/);
  });

  it('a VAE encoder whose output is neither latent_sample nor latent_parameters', async () => {
    const message = await failure(
      folder((dir) =>
        writeInterface(path.join(dir, 'vae_encoder', 'model.onnx'), [['sample', 'float32', ['batch', 3, 'h', 'w']]], [['latent', 'float32', ['batch', 4, 'h', 'w']]]),
      ),
    );
    expect(message).toMatch(/vae_encoder\/model\.onnx: expected an output named "latent_sample" or "latent_parameters"/);
  });

  it('a VAE decoder input named sample instead of latent_sample', async () => {
    const message = await failure(
      folder((dir) =>
        writeInterface(path.join(dir, 'vae_decoder', 'model.onnx'), [['sample', 'float32', ['batch', 4, 'h', 'w']]], [['image', 'float32', ['batch', 3, 'H', 'W']]]),
      ),
    );
    expect(message).toMatch(/vae_decoder\/model\.onnx: expected an input named "latent_sample"/);
  });

  it('a VAE decoder whose latent channels differ from the UNet', async () => {
    const message = await failure(
      folder((dir) =>
        writeInterface(path.join(dir, 'vae_decoder', 'model.onnx'), [['latent_sample', 'float32', ['batch', 16, 'h', 'w']]], [['sample', 'float32', ['batch', 3, 'H', 'W']]]),
      ),
    );
    expect(message).toMatch(/vae_decoder\/model\.onnx: latent_sample has 16 channels but the UNet's sample has 4/);
  });

  it('an LCM UNet whose guidance embedding size is nowhere given', async () => {
    const message = await failure(
      folder((dir) => writeInterface(unet(dir), [...UNET_OK, ['timestep_cond', 'float32', ['batch', 'cond_dim']]], UNET_OUT)),
    );
    expect(message).toMatch(/unet\/model\.onnx: timestep_cond has no fixed size and unet\/config\.json has no time_cond_proj_dim/);
  });

  it('a UNet whose text hidden size differs from the text encoder', async () => {
    const message = await failure(
      folder((dir) => writeInterface(unet(dir), [UNET_OK[0], UNET_OK[1], ['encoder_hidden_states', 'float32', ['batch', 77, 768]]], UNET_OUT)),
    );
    expect(message).toMatch(/unet\/model\.onnx: encoder_hidden_states has size 768 but the text encoder outputs 8/);
  });
});

describe('after a failed load', () => {
  it('the error is not cached: a repaired folder loads', async () => {
    const dir = folder((d) => fs.writeFileSync(path.join(d, 'model_index.json'), '{'));
    await expect(loadPipeline(dir)).rejects.toThrow(/model_index\.json is not valid JSON/);
    fs.writeFileSync(path.join(dir, 'model_index.json'), '{}');
    const p = await loadPipeline(dir);
    expect(p.name).toBe(path.basename(dir));
    await p.dispose();
  });
});
