/**
 * Writes complete, tiny SDXL model folders in the layout Optimum's SDXL export produces:
 * two text encoders of different widths that output `hidden_states.0..N` (the second with
 * the pooled `text_embeds`), a UNet fed `encoder_hidden_states` [b, 77, d1 + d2],
 * `text_embeds` and `time_ids`, and SD-style VAE halves. The UNet's output depends on
 * every conditioning input through its own weights (both halves of the hidden states,
 * the pooled embedding, each time id), so a pipeline that drops, zeroes, swaps or
 * reorders one of them produces different pixels than the hand-written reference loop.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GraphBuilder, weights, type DType } from './onnx-builder.ts';
import { floatType, fromF32, toF32, tokenizerFiles, vaeDecoder, vaeEncoder, writeJson } from './tiny-sd-models.ts';

/** The two encoders' widths differ, as SDXL's (768 and 1280), so a swapped concatenation cannot line up by accident. */
export const XL_D1 = 8;
export const XL_D2 = 12;
export const XL_POOLED = 6;
/** transformer layers per encoder: hidden_states.0 (embeddings) .. hidden_states.2; SDXL reads hidden_states.1 */
export const XL_LAYERS = 2;
export const XL_LATENT_CHANNELS = 4;

export interface TinyXlVariant {
  name: string;
  idsDtype?: 'int32' | 'int64';
  /** `int64-batch`: int64 [batch]; `float-batch`: the model's float type [batch] (Optimum's SDXL UNet) */
  timestep?: 'int64-batch' | 'float-batch';
  float16?: boolean;
  /** UNet initializers in unet/model.onnx_data */
  externalData?: boolean;
  /** model_index.json `_class_name` (default StableDiffusionXLPipeline); null leaves it out */
  className?: string | null;
  /** model_index.json force_zeros_for_empty_prompt (default true, as SDXL base) */
  forceZeros?: boolean;
  /** vae config scaling_factor; omitted -> the family default 0.13025 applies */
  scalingFactor?: number;
  forceUpcast?: boolean;
  /** tokenizer_2's pad token (SDXL's is "!") */
  padToken2?: string;
  /** UNet inputs left out, to prove the refusal */
  omitUNetInputs?: ('text_embeds' | 'time_ids')[];
  /** a VAE decoder whose float16 output overflows to Inf (SDXL's VAE in half precision) */
  overflowingDecoder?: boolean;
  /** the UNet's encoder_hidden_states width (default d1 + d2), to prove a mismatch is refused */
  unetHidden?: number;
  /** the UNet's sample channels: 4, or 9 for an SDXL inpainting UNet (latents, mask, masked-image latents) */
  unetInChannels?: number;
  /** a UNet that does almost nothing (out_sample = sample x 0.01; the conditioning inputs declared and fed, unused), for timing the pipeline's own per-step work */
  minimalUNet?: boolean;
  /** scheduler/scheduler_config.json (default: SDXL base's) */
  schedulerConfig?: Record<string, unknown>;
  /** the `imagine` defaults key of model_index.json */
  imagine?: Record<string, unknown>;
}

export const SDXL_SCHEDULER_CONFIG = {
  _class_name: 'EulerDiscreteScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  interpolation_type: 'linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  steps_offset: 1,
  timestep_spacing: 'leading',
  trained_betas: null,
  use_karras_sigmas: false,
};

/** SDXL-Turbo's scheduler: Euler ancestral with trailing spacing, so one step starts at t = 999. */
export const SDXL_TURBO_SCHEDULER_CONFIG = {
  ...SDXL_SCHEDULER_CONFIG,
  _class_name: 'EulerAncestralDiscreteScheduler',
  timestep_spacing: 'trailing',
};

function textEncoder(v: TinyXlVariant, vocabSize: number, width: number, second: boolean, seed: number) {
  const g = new GraphBuilder(second ? 'text_encoder_2' : 'text_encoder');
  const ft = floatType(v);
  const ids = g.input('input_ids', v.idsDtype ?? 'int32', ['batch', 'sequence']);
  const table = g.constant('float32', [vocabSize, width], weights(vocabSize * width, seed, 1));
  const pos = g.constant('float32', [77, width], weights(77 * width, seed + 1, 0.2));
  const layers = [g.op('Add', [g.op('Gather', [table, ids], { axis: { int: 0 } }), pos])];
  for (let l = 1; l <= XL_LAYERS; l++) {
    const w = g.constant('float32', [width, width], weights(width * width, seed + 1 + l, 0.6));
    layers.push(g.op('Tanh', [g.op('MatMul', [layers[l - 1], w])]));
  }
  const last = layers[XL_LAYERS];
  const mean = g.op('ReduceMean', [last], { axes: { ints: [1] }, keepdims: { int: 0 } });
  // Optimum's output order: encoder 1 last_hidden_state, pooler_output, hidden_states.*;
  // encoder 2 text_embeds, last_hidden_state, hidden_states.*
  if (second) {
    const proj = g.constant('float32', [width, XL_POOLED], weights(width * XL_POOLED, seed + 9, 0.7));
    fromF32(g, v, g.op('MatMul', [mean, proj]), 'text_embeds');
    g.output('text_embeds', ft, ['batch', XL_POOLED]);
  }
  fromF32(g, v, last, 'last_hidden_state');
  g.output('last_hidden_state', ft, ['batch', 'sequence', width]);
  if (!second) {
    fromF32(g, v, mean, 'pooler_output');
    g.output('pooler_output', ft, ['batch', width]);
  }
  layers.forEach((layer, l) => {
    fromF32(g, v, layer, `hidden_states.${l}`);
    g.output(`hidden_states.${l}`, ft, ['batch', 'sequence', width]);
  });
  return g.build();
}

/** [b, k] @ w [k, 4] -> a per-channel bias [b, 4, 1, 1]. */
function channelBias(g: GraphBuilder, x: string, k: number, seed: number, scale: number): string {
  const proj = g.op('MatMul', [x, g.constant('float32', [k, XL_LATENT_CHANNELS], weights(k * XL_LATENT_CHANNELS, seed, scale))]);
  return g.op('Unsqueeze', [proj, g.constant('int64', [2], [2, 3])]);
}

function minimalUNet(v: TinyXlVariant) {
  const g = new GraphBuilder('unet');
  const ft = floatType(v);
  const sample = g.input('sample', ft, ['batch', XL_LATENT_CHANNELS, 'height', 'width']);
  g.input('timestep', 'int64', ['batch']);
  g.input('encoder_hidden_states', ft, ['batch', 'sequence', XL_D1 + XL_D2]);
  g.input('text_embeds', ft, ['batch', XL_POOLED]);
  g.input('time_ids', ft, ['batch', 6]);
  g.op('Mul', [sample, g.constant(ft, [], [0.01])], {}, ['out_sample']);
  g.output('out_sample', ft, ['batch', XL_LATENT_CHANNELS, 'height', 'width']);
  return g.build();
}

function unet(v: TinyXlVariant) {
  if (v.minimalUNet) return minimalUNet(v);
  const g = new GraphBuilder('unet');
  const ft = floatType(v);
  const C = XL_LATENT_CHANNELS;
  const inChannels = v.unetInChannels ?? C;
  const input = toF32(g, v, g.input('sample', ft, ['batch', inChannels, 'height', 'width']));
  // an inpainting UNet's extra channels go through the convolution only; the latents also feed the time term
  const sample =
    inChannels === C ? input : g.op('Slice', [input, g.constant('int64', [1], [0]), g.constant('int64', [1], [C]), g.constant('int64', [1], [1])]);
  const ts = v.timestep === 'float-batch' ? g.input('timestep', ft, ['batch']) : g.input('timestep', 'int64', ['batch']);
  const width = v.unetHidden ?? XL_D1 + XL_D2;
  const hidden = toF32(g, v, g.input('encoder_hidden_states', ft, ['batch', 'sequence', width]));
  const omit = new Set(v.omitUNetInputs ?? []);
  const conv = g.op(
    'Conv',
    [input, g.constant('float32', [C, inChannels, 3, 3], weights(C * inChannels * 9, 61, 0.15)), g.constant('float32', [C], weights(C, 62, 0.05))],
    { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } },
  );
  // the mean token as a batched MatMul (batch-size independent summation, see tiny-sd-models.ts)
  const meanToken = g.op('Squeeze', [
    g.op('MatMul', [g.constant('float32', [1, 77], new Array(77).fill(1 / 77)), hidden]),
    g.constant('int64', [1], [1]),
  ]);
  // every feature of both encoders' halves has its own weight
  let out = g.op('Add', [conv, channelBias(g, meanToken, width, 63, 0.8)]);
  if (!omit.has('text_embeds')) {
    const pooled = toF32(g, v, g.input('text_embeds', ft, ['batch', XL_POOLED]));
    out = g.op('Add', [out, channelBias(g, pooled, XL_POOLED, 64, 0.8)]);
  }
  if (!omit.has('time_ids')) {
    const ids = toF32(g, v, g.input('time_ids', ft, ['batch', 6]));
    // sizes are tens of pixels here: scaled so each id moves the output visibly
    const scaled = g.op('Mul', [ids, g.constant('float32', [], [1 / 32])]);
    out = g.op('Add', [out, channelBias(g, scaled, 6, 65, 0.6)]);
  }
  const t = g.op('Reshape', [g.op('Cast', [ts], { to: { int: 1 } }), g.constant('int64', [4], [-1, 1, 1, 1])]);
  out = g.op('Add', [out, g.op('Mul', [sample, g.op('Mul', [t, g.constant('float32', [], [0.001])])])]);
  fromF32(g, v, out, 'out_sample');
  g.output('out_sample', ft, ['batch', C, 'height', 'width']);
  return g.build({ externalData: v.externalData ? 'model.onnx_data' : undefined });
}

/** A decoder whose float16 output is Inf: the overflow force_upcast guards against. */
function overflowingDecoder() {
  const g = new GraphBuilder('vae_decoder');
  const latent = g.input('latent_sample', 'float16', ['batch', XL_LATENT_CHANNELS, 'latent_height', 'latent_width']);
  const big = g.op('Mul', [g.op('Cast', [latent], { to: { int: 1 } }), g.constant('float32', [], [1e9])]);
  const image = g.op('DepthToSpace', [
    g.op('Conv', [big, g.constant('float32', [192, XL_LATENT_CHANNELS, 1, 1], weights(192 * XL_LATENT_CHANNELS, 31, 0.5))]),
  ], { blocksize: { int: 8 }, mode: { string: 'DCR' } });
  g.op('Cast', [image], { to: { int: 10 } }, ['sample']);
  g.output('sample', 'float16' as DType, ['batch', 3, 'height', 'width']);
  return g.build();
}

/** Writes one SDXL-layout folder under `parent`; returns its path. */
export function writeTinyXlModel(parent: string, v: TinyXlVariant): string {
  const dir = path.join(parent, v.name);
  const vocab1 = tokenizerFiles(path.join(dir, 'tokenizer'), '<|endoftext|>');
  const vocab2 = tokenizerFiles(path.join(dir, 'tokenizer_2'), v.padToken2 ?? '!');
  const component = ['onnxruntime', 'OnnxRuntimeModel'];
  writeJson(path.join(dir, 'model_index.json'), {
    ...(v.className === null ? {} : { _class_name: v.className ?? 'StableDiffusionXLPipeline' }),
    _diffusers_version: '0.30.0',
    force_zeros_for_empty_prompt: v.forceZeros ?? true,
    text_encoder: component,
    text_encoder_2: component,
    tokenizer: ['transformers', 'CLIPTokenizer'],
    tokenizer_2: ['transformers', 'CLIPTokenizer'],
    unet: component,
    vae_decoder: component,
    vae_encoder: component,
    scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    ...(v.imagine ? { imagine: v.imagine } : {}),
  });
  writeJson(path.join(dir, 'scheduler', 'scheduler_config.json'), v.schedulerConfig ?? SDXL_SCHEDULER_CONFIG);
  writeJson(path.join(dir, 'text_encoder', 'config.json'), { hidden_size: XL_D1, num_hidden_layers: XL_LAYERS });
  fs.writeFileSync(path.join(dir, 'text_encoder', 'model.onnx'), textEncoder(v, vocab1, XL_D1, false, 71).model);
  writeJson(path.join(dir, 'text_encoder_2', 'config.json'), { hidden_size: XL_D2, projection_dim: XL_POOLED, num_hidden_layers: XL_LAYERS });
  fs.writeFileSync(path.join(dir, 'text_encoder_2', 'model.onnx'), textEncoder(v, vocab2, XL_D2, true, 81).model);
  writeJson(path.join(dir, 'unet', 'config.json'), {
    sample_size: 8,
    in_channels: v.unetInChannels ?? XL_LATENT_CHANNELS,
    cross_attention_dim: XL_D1 + XL_D2,
    addition_embed_type: 'text_time',
    projection_class_embeddings_input_dim: XL_POOLED + 6 * 8,
  });
  const u = unet(v);
  fs.writeFileSync(path.join(dir, 'unet', 'model.onnx'), u.model);
  if (u.external) fs.writeFileSync(path.join(dir, 'unet', 'model.onnx_data'), u.external);
  const vaeConfig = {
    latent_channels: XL_LATENT_CHANNELS,
    block_out_channels: [8, 8, 8, 8],
    ...(v.scalingFactor === undefined ? {} : { scaling_factor: v.scalingFactor }),
    ...(v.forceUpcast === undefined ? {} : { force_upcast: v.forceUpcast }),
  };
  writeJson(path.join(dir, 'vae_decoder', 'config.json'), vaeConfig);
  fs.writeFileSync(path.join(dir, 'vae_decoder', 'model.onnx'), (v.overflowingDecoder ? overflowingDecoder() : vaeDecoder(v)).model);
  writeJson(path.join(dir, 'vae_encoder', 'config.json'), vaeConfig);
  fs.writeFileSync(path.join(dir, 'vae_encoder', 'model.onnx'), vaeEncoder(v).model);
  return dir;
}

/** The export variants Optimum produces, one folder each. */
export const XL_VARIANTS: TinyXlVariant[] = [
  { name: 'xl-base', idsDtype: 'int32', timestep: 'int64-batch' },
  { name: 'xl-ids-int64-float-timestep', idsDtype: 'int64', timestep: 'float-batch' },
  { name: 'xl-fp16', float16: true, timestep: 'float-batch' },
  { name: 'xl-external-data', externalData: true, className: 'ORTStableDiffusionXLPipeline' },
];
