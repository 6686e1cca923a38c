/**
 * Writes complete, tiny Stable Diffusion model folders (the Hugging Face ONNX export
 * layout) for tests: real ONNX graphs with the real input/output names, one folder per
 * export variant the pipeline must handle (ids dtype, timestep form, fp16, encoder
 * output, LCM guidance embedding, external-data UNet). The graphs are small convolutions
 * and matmuls — the point is the interface, not the pictures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GraphBuilder, weights, type DType } from './onnx-builder.ts';

export interface TinyModelVariant {
  /** folder name */
  name: string;
  idsDtype?: 'int32' | 'int64';
  /** `int64-batch`: int64 [batch]; `float-scalar`: float32 []; `float16-scalar`: float16 []; `float-1`: float32 [1] */
  timestep?: 'int64-batch' | 'float-scalar' | 'float16-scalar' | 'float-1';
  /** fp16 interface on every model (sample, hidden states, latents, images) */
  float16?: boolean;
  encoderOutput?: 'latent_sample' | 'latent_parameters';
  /** LCM-distilled UNet: extra `timestep_cond` input of size time_cond_proj_dim */
  lcm?: boolean;
  /** UNet initializers in `unet/weights.pb` */
  externalData?: boolean;
  withVaeEncoder?: boolean;
  /** written into vae configs; omitted -> the pipeline's default 0.18215 applies */
  scalingFactor?: number;
  padToken?: string;
  /** UNet exported with fixed latent height and width (a static-shape export) */
  staticLatent?: number;
  /** the UNet's sample channels: 4, or 9 for an inpainting UNet (latents, mask, masked-image latents) */
  unetInChannels?: number;
  /** a safety_checker/ (see writeTinySafetyChecker) and SD's feature_extractor/ */
  safetyChecker?: TinySafetyChecker;
}

export const HIDDEN = 8;
export const LATENT_CHANNELS = 4;
export const TIME_COND_DIM = 8;
export const SAMPLE_SIZE = 64;

// CLIP's byte -> unicode table (printable bytes map to themselves, the rest to U+0100+).
function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = [];
  let extra = 0;
  const chars = new Map<number, string>();
  for (let b = 0; b < 256; b++) {
    chars.set(b, keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++));
  }
  for (const b of [...keep, ...Array.from({ length: 256 }, (_, i) => i).filter((b) => !keep.includes(b))]) {
    out.push(chars.get(b)!);
  }
  return out;
}

/** A CLIP-format vocabulary with a handful of merges: enough for the tokenizer to run for real. */
export const TINY_MERGES = [
  ['a', 't</w>'],
  ['c', 'at</w>'],
  ['o', 'g</w>'],
  ['d', 'og</w>'],
  ['p', 'h'],
  ['ph', 'o'],
  ['t', 'o</w>'],
  ['pho', 'to</w>'],
];

/** Writes a CLIP tokenizer folder (vocab, merges, configs naming `padToken`); returns the vocabulary size. */
export function tokenizerFiles(dir: string, padToken: string) {
  const base = bytesToUnicode();
  const vocab: Record<string, number> = {};
  base.forEach((c, i) => (vocab[c] = i));
  base.forEach((c, i) => (vocab[`${c}</w>`] = 256 + i));
  TINY_MERGES.forEach(([a, b], i) => (vocab[a + b] = 512 + i));
  vocab['<|startoftext|>'] = 512 + TINY_MERGES.length;
  vocab['<|endoftext|>'] = 513 + TINY_MERGES.length;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
  fs.writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${TINY_MERGES.map((m) => m.join(' ')).join('\n')}\n`);
  const special = {
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
    pad_token: padToken,
  };
  fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify(special));
  fs.writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({ ...special, model_max_length: 77, do_lower_case: true, tokenizer_class: 'CLIPTokenizer' }),
  );
  return Object.keys(vocab).length;
}

export const floatType = (v: Pick<TinyModelVariant, 'float16'>): DType => (v.float16 ? 'float16' : 'float32');

/** Inputs arrive in the model's float type; the arithmetic runs in float32 in between. */
export function toF32(g: GraphBuilder, v: Pick<TinyModelVariant, 'float16'>, name: string): string {
  return v.float16 ? g.op('Cast', [name], { to: { int: 1 } }) : name;
}
export function fromF32(g: GraphBuilder, v: Pick<TinyModelVariant, 'float16'>, value: string, output: string): void {
  if (v.float16) g.op('Cast', [value], { to: { int: 10 } }, [output]);
  else g.op('Identity', [value], {}, [output]);
}

function textEncoder(v: TinyModelVariant, vocabSize: number) {
  const g = new GraphBuilder('text_encoder');
  const ids = g.input('input_ids', v.idsDtype ?? 'int32', ['batch', 'sequence']);
  const table = g.constant('float32', [vocabSize, HIDDEN], weights(vocabSize * HIDDEN, 11, 1));
  const pos = g.constant('float32', [77, HIDDEN], weights(77 * HIDDEN, 12, 0.2));
  const proj = g.constant('float32', [HIDDEN, HIDDEN], weights(HIDDEN * HIDDEN, 13, 0.6));
  const emb = g.op('Add', [g.op('Gather', [table, ids], { axis: { int: 0 } }), pos]);
  const hidden = g.op('Tanh', [g.op('MatMul', [emb, proj])]);
  fromF32(g, v, hidden, 'last_hidden_state');
  fromF32(g, v, g.op('ReduceMean', [hidden], { axes: { ints: [1] }, keepdims: { int: 0 } }), 'pooler_output');
  g.output('last_hidden_state', floatType(v), ['batch', 'sequence', HIDDEN]);
  g.output('pooler_output', floatType(v), ['batch', HIDDEN]);
  return g.build();
}

function unet(v: TinyModelVariant) {
  const g = new GraphBuilder('unet');
  const ft = floatType(v);
  const spatial: (string | number)[] = v.staticLatent ? [v.staticLatent, v.staticLatent] : ['height', 'width'];
  const inChannels = v.unetInChannels ?? LATENT_CHANNELS;
  const input = toF32(g, v, g.input('sample', ft, ['batch', inChannels, ...spatial]));
  // an inpainting UNet's extra channels go through the convolution only; the latents also feed the time term
  const sample =
    inChannels === LATENT_CHANNELS
      ? input
      : g.op('Slice', [input, g.constant('int64', [1], [0]), g.constant('int64', [1], [LATENT_CHANNELS]), g.constant('int64', [1], [1])]);
  const tsKind = v.timestep ?? 'int64-batch';
  const tsInput =
    tsKind === 'int64-batch'
      ? g.input('timestep', 'int64', ['batch'])
      : tsKind === 'float16-scalar'
        ? g.input('timestep', 'float16', [])
        : g.input('timestep', 'float32', tsKind === 'float-1' ? [1] : []);
  const hidden = toF32(g, v, g.input('encoder_hidden_states', ft, ['batch', 'sequence', HIDDEN]));

  const conv = g.op(
    'Conv',
    [
      input,
      g.constant('float32', [LATENT_CHANNELS, inChannels, 3, 3], weights(LATENT_CHANNELS * inChannels * 9, 21, 0.15)),
      g.constant('float32', [LATENT_CHANNELS], weights(LATENT_CHANNELS, 22, 0.05)),
    ],
    { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } },
  );
  // prompt conditioning: a per-channel bias from the mean projected hidden state
  const textProj = g.op('MatMul', [hidden, g.constant('float32', [HIDDEN, LATENT_CHANNELS], weights(HIDDEN * LATENT_CHANNELS, 23, 0.8))]);
  // the mean over the sequence as a batched MatMul: a ReduceMean over this middle axis takes a
  // different summation path in onnxruntime at batch 1 than at batch > 1 (last-bit differences)
  const textMean = g.op('MatMul', [g.constant('float32', [1, 77], new Array(77).fill(1 / 77)), textProj]);
  const textBias = g.op('Unsqueeze', [
    g.op('Transpose', [textMean], { perm: { ints: [0, 2, 1] } }),
    g.constant('int64', [1], [3]),
  ]);
  // timestep dependence: sample * t / 1000 (works for a scalar t and for t per batch item)
  const t = g.op('Reshape', [g.op('Cast', [tsInput], { to: { int: 1 } }), g.constant('int64', [4], [-1, 1, 1, 1])]);
  const timeTerm = g.op('Mul', [sample, g.op('Mul', [t, g.constant('float32', [], [0.001])])]);
  let out = g.op('Add', [g.op('Add', [conv, textBias]), timeTerm]);
  if (v.lcm) {
    const cond = toF32(g, v, g.input('timestep_cond', ft, ['batch', TIME_COND_DIM]));
    const condProj = g.op('MatMul', [cond, g.constant('float32', [TIME_COND_DIM, LATENT_CHANNELS], weights(TIME_COND_DIM * LATENT_CHANNELS, 24, 0.3))]);
    out = g.op('Add', [out, g.op('Unsqueeze', [condProj, g.constant('int64', [2], [2, 3])])]);
  }
  fromF32(g, v, out, 'out_sample');
  g.output('out_sample', ft, ['batch', LATENT_CHANNELS, ...spatial]);
  return g.build({ externalData: v.externalData ? 'weights.pb' : undefined });
}

export function vaeDecoder(v: Pick<TinyModelVariant, 'float16'>) {
  const g = new GraphBuilder('vae_decoder');
  const ft = floatType(v);
  const latent = toF32(g, v, g.input('latent_sample', ft, ['batch', LATENT_CHANNELS, 'latent_height', 'latent_width']));
  const conv = g.op('Conv', [
    latent,
    g.constant('float32', [192, LATENT_CHANNELS, 1, 1], weights(192 * LATENT_CHANNELS, 31, 0.12)),
    g.constant('float32', [192], weights(192, 32, 0.2)),
  ]);
  const image = g.op('Tanh', [g.op('DepthToSpace', [conv], { blocksize: { int: 8 }, mode: { string: 'DCR' } })]);
  fromF32(g, v, image, 'sample');
  g.output('sample', ft, ['batch', 3, 'height', 'width']);
  return g.build();
}

export function vaeEncoder(v: Pick<TinyModelVariant, 'float16' | 'encoderOutput'>) {
  const g = new GraphBuilder('vae_encoder');
  const ft = floatType(v);
  const image = toF32(g, v, g.input('sample', ft, ['batch', 3, 'height', 'width']));
  const outName = v.encoderOutput ?? 'latent_sample';
  const channels = outName === 'latent_parameters' ? 2 * LATENT_CHANNELS : LATENT_CHANNELS;
  const latent = g.op('Conv', [
    g.op('SpaceToDepth', [image], { blocksize: { int: 8 } }),
    g.constant('float32', [channels, 192, 1, 1], weights(channels * 192, 41, 0.1)),
  ]);
  fromF32(g, v, latent, outName);
  g.output(outName, ft, ['batch', channels, 'latent_height', 'latent_width']);
  return g.build();
}

/**
 * A 4x "super-resolution" model with Real-ESRGAN's interface (RGB in [0, 1], NCHW):
 * nearest-neighbour upscaling as a 1x1 conv + DepthToSpace, so a tiled run has an exact
 * expected answer.
 */
export function writeTinyUpscaler(dir: string, scale = 4): string {
  const g = new GraphBuilder('upscaler');
  const input = g.input('image', 'float32', ['batch', 3, 'height', 'width']);
  const outChannels = 3 * scale * scale;
  const w = new Float32Array(outChannels * 3);
  // DCR: output channel (i * scale + j) * 3 + c holds colour c of sub-pixel (i, j)
  for (let o = 0; o < outChannels; o++) w[o * 3 + (o % 3)] = 1;
  const up = g.op('DepthToSpace', [g.op('Conv', [input, g.constant('float32', [outChannels, 3, 1, 1], w)])], {
    blocksize: { int: scale },
    mode: { string: 'DCR' },
  });
  g.op('Identity', [up], {}, ['output']);
  g.output('output', 'float32', ['batch', 3, 'out_height', 'out_width']);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.onnx'), g.build().model);
  return dir;
}

export interface TinySafetyChecker {
  /** flags an image when the mean of its normalised clip_input is above this */
  threshold: number;
  float16?: boolean;
}

/** SD 1.5's feature_extractor/preprocessor_config.json (CLIP ViT-L/14). */
export const SD15_PREPROCESSOR_CONFIG = {
  crop_size: 224,
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_resize: true,
  feature_extractor_type: 'CLIPFeatureExtractor',
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  size: 224,
};

/**
 * A stand-in for SD's safety checker with its exact interface (`clip_input` [batch, 3, 224, 224],
 * `images` NHWC -> `out_images`, `has_nsfw_concepts` bool [batch]) and a verdict that depends on
 * the prepared input: the mean of clip_input above `threshold`. Bright pictures are "flagged",
 * so a test can tell which images the pipeline really showed it.
 */
export function writeTinySafetyChecker(dir: string, c: TinySafetyChecker): string {
  const t: DType = c.float16 ? 'float16' : 'float32';
  const g = new GraphBuilder('safety_checker');
  const clip = g.input('clip_input', t, ['batch', 3, 224, 224]);
  const images = g.input('images', t, ['batch', 'height', 'width', 3]);
  const mean = g.op('ReduceMean', [clip], { axes: { ints: [1, 2, 3] }, keepdims: { int: 0 } });
  g.op('Greater', [mean, g.constant(t, [], [c.threshold])], {}, ['has_nsfw_concepts']);
  g.op('Identity', [images], {}, ['out_images']);
  g.output('out_images', t, ['batch', 'height', 'width', 3]);
  g.output('has_nsfw_concepts', 'bool', ['batch']);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.onnx'), g.build().model);
  return dir;
}

export function writeJson(file: string, value: unknown) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2));
}

export const SD15_SCHEDULER_CONFIG = {
  _class_name: 'PNDMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** Writes one model folder under `parent`; returns its path. */
export function writeTinyModel(parent: string, v: TinyModelVariant): string {
  const dir = path.join(parent, v.name);
  const vocabSize = tokenizerFiles(path.join(dir, 'tokenizer'), v.padToken ?? '<|endoftext|>');
  const component = ['diffusers', 'OnnxRuntimeModel'];
  writeJson(path.join(dir, 'model_index.json'), {
    _class_name: v.lcm ? 'ORTLatentConsistencyModelPipeline' : 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.30.0',
    text_encoder: component,
    unet: component,
    vae_decoder: component,
    ...(v.withVaeEncoder === false ? {} : { vae_encoder: component }),
    tokenizer: ['transformers', 'CLIPTokenizer'],
    scheduler: ['diffusers', v.lcm ? 'LCMScheduler' : 'PNDMScheduler'],
    safety_checker: v.safetyChecker ? ['stable_diffusion', 'StableDiffusionSafetyChecker'] : [null, null],
    feature_extractor: v.safetyChecker ? ['transformers', 'CLIPImageProcessor'] : [null, null],
    requires_safety_checker: v.safetyChecker !== undefined,
  });
  if (v.safetyChecker) {
    writeTinySafetyChecker(path.join(dir, 'safety_checker'), v.safetyChecker);
    writeJson(path.join(dir, 'feature_extractor', 'preprocessor_config.json'), SD15_PREPROCESSOR_CONFIG);
  }
  writeJson(path.join(dir, 'scheduler', 'scheduler_config.json'), SD15_SCHEDULER_CONFIG);
  writeJson(path.join(dir, 'text_encoder', 'config.json'), { hidden_size: HIDDEN, max_position_embeddings: 77, vocab_size: vocabSize });
  fs.writeFileSync(path.join(dir, 'text_encoder', 'model.onnx'), textEncoder(v, vocabSize).model);

  const unetDir = path.join(dir, 'unet');
  writeJson(path.join(unetDir, 'config.json'), {
    sample_size: SAMPLE_SIZE / 8,
    in_channels: v.unetInChannels ?? LATENT_CHANNELS,
    out_channels: LATENT_CHANNELS,
    cross_attention_dim: HIDDEN,
    ...(v.lcm ? { time_cond_proj_dim: TIME_COND_DIM } : {}),
  });
  const u = unet(v);
  fs.writeFileSync(path.join(unetDir, 'model.onnx'), u.model);
  if (u.external) fs.writeFileSync(path.join(unetDir, 'weights.pb'), u.external);

  const vaeConfig = {
    sample_size: SAMPLE_SIZE,
    in_channels: 3,
    out_channels: 3,
    latent_channels: LATENT_CHANNELS,
    block_out_channels: [8, 8, 8, 8],
    ...(v.scalingFactor === undefined ? {} : { scaling_factor: v.scalingFactor }),
  };
  writeJson(path.join(dir, 'vae_decoder', 'config.json'), vaeConfig);
  fs.writeFileSync(path.join(dir, 'vae_decoder', 'model.onnx'), vaeDecoder(v).model);
  if (v.withVaeEncoder !== false) {
    writeJson(path.join(dir, 'vae_encoder', 'config.json'), vaeConfig);
    fs.writeFileSync(path.join(dir, 'vae_encoder', 'model.onnx'), vaeEncoder(v).model);
  }
  return dir;
}

/** The export variants the pipeline supports, one folder each. */
export const VARIANTS: TinyModelVariant[] = [
  { name: 'base', idsDtype: 'int32', timestep: 'int64-batch', scalingFactor: 0.18215 },
  { name: 'ids-int64-float-timestep', idsDtype: 'int64', timestep: 'float-scalar' },
  { name: 'timestep-1', idsDtype: 'int32', timestep: 'float-1', scalingFactor: 0.5 },
  { name: 'fp16', idsDtype: 'int32', timestep: 'float16-scalar', float16: true },
  { name: 'latent-parameters', encoderOutput: 'latent_parameters', padToken: '!' },
  { name: 'lcm', lcm: true, timestep: 'int64-batch' },
  { name: 'external-data', externalData: true },
];

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}
