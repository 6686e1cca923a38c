/**
 * Stable Diffusion XL (base, its fine-tunes, Turbo, Lightning), in the layout Optimum's
 * SDXL export writes. The contract is diffusers' StableDiffusionXLPipeline:
 *
 * - encode_prompt: both tokenizers and text encoders; the penultimate hidden states of
 *   each (`hidden_states[-2]`) concatenated on the feature axis -> encoder_hidden_states
 *   [77, d1 + d2]; the second encoder's pooled `text_embeds` -> the UNet's `text_embeds`.
 *   With `force_zeros_for_empty_prompt` (SDXL base: true) and no negative prompt, the
 *   unconditional half is zeros of the same shapes instead of the empty prompt's encoding.
 * - _get_add_time_ids: time_ids = original size (h, w) + crop top-left (0, 0) + target
 *   size (h, w), one row per image (both CFG halves get the same row).
 * - VAE: scaling factor 0.13025 (SDXL's VAE config); `force_upcast` (an fp16 SDXL VAE
 *   overflows) decodes in float32.
 *
 * Where Optimum's ORTStableDiffusionXLPipeline differs, this follows diffusers:
 * - Optimum picks the encoders' outputs by position (`[0]` pooled, `[-2]` penultimate);
 *   here they are picked by name, which is the same tensors for its export order.
 * - Optimum concatenates the negative prompt's hidden states of the last encoder only
 *   (`np.concatenate(negative_prompt_embeds)`, not the list); diffusers concatenates both
 *   encoders' states for the negative prompt as for the prompt, and so does this.
 * - Optimum falls back to 0.18215 when the VAE config has no scaling_factor; diffusers
 *   reads SDXL's 0.13025 from that config, which is this family's default.
 * - Optimum never upcasts the VAE; diffusers honours force_upcast (see vae.ts).
 */
import path from 'node:path';
import { SDXL_FAMILY } from '../../../src/model-families.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { checkLayeredTextEncoder, knownDims, type TextEncoderIO } from '../model-contract.ts';
import { TextEncoder } from '../text-encoder.ts';
import { PromptCache } from '../prompt-cache.ts';
import { fixedDim } from './dims.ts';
import type { Conditioning, ModelFamily, TextPlan, TextPlanContext } from './types.ts';

const TEXT_EMBEDS = 'text_embeds';
const TIME_IDS = 'time_ids';

export const sdxlFamily: ModelFamily = {
  ...SDXL_FAMILY,
  files: [
    { key: 'textEncoder', rel: 'text_encoder/model.onnx', what: 'the first CLIP text encoder exported to ONNX' },
    { key: 'vocab', rel: 'tokenizer/vocab.json', what: "the first tokenizer's vocabulary" },
    { key: 'merges', rel: 'tokenizer/merges.txt', what: "the first tokenizer's BPE merges" },
    { key: 'textEncoder2', rel: 'text_encoder_2/model.onnx', what: 'the second text encoder (with projection) exported to ONNX' },
    { key: 'vocab2', rel: 'tokenizer_2/vocab.json', what: "the second tokenizer's vocabulary" },
    { key: 'merges2', rel: 'tokenizer_2/merges.txt', what: "the second tokenizer's BPE merges" },
  ],
  // its VAE was trained at 1024 px (128 latent px), so a 1024 image decodes whole, larger ones in tiles
  defaults: {
    ...SDXL_FAMILY.defaults,
    scalingFactor: 0.13025,
    forceUpcast: true,
    vaeTiling: { tile: 128, overlap: 32 },
  },
  unetInputs: [
    { name: TEXT_EMBEDS, rank: 2, what: "SDXL's pooled prompt embedding [batch, pooled size]" },
    { name: TIME_IDS, rank: 2, what: "SDXL's size conditioning [batch, 6]: original size, crop top-left, target size" },
  ],
  // ComfyUI's SDXL latent-to-RGB factors (latent_formats.SDXL)
  latentRgb: {
    factors: [
      [0.392, 0.4054, 0.4549],
      [-0.2634, -0.0196, 0.0653],
      [0.0568, 0.1687, -0.0755],
      [-0.3112, -0.2359, -0.2076],
    ],
    bias: [0, 0, 0],
  },
  planText: planSdxlText,
};

function planSdxlText(ctx: TextPlanContext): TextPlan {
  const { folder, unet } = ctx;
  const files = folder.files;
  const io1 = checkLayeredTextEncoder(ctx.label(files.textEncoder!), ctx.iface(files.textEncoder!), undefined);
  const io2 = checkLayeredTextEncoder(ctx.label(files.textEncoder2!), ctx.iface(files.textEncoder2!), TEXT_EMBEDS);
  const unetLabel = ctx.label(files.unet);
  const width = (io: TextEncoderIO) => fixedDim(io.output.shape[2]);
  const d1 = width(io1);
  const d2 = width(io2);
  const unetHidden = fixedDim(unet.hidden.shape[2]);
  if (unetHidden !== undefined && d1 !== undefined && d2 !== undefined && unetHidden !== d1 + d2) {
    throw new Error(`${unetLabel}: encoder_hidden_states has size ${unetHidden} but the two text encoders' ${io1.output.name} outputs ${d1} + ${d2} = ${d1 + d2}`);
  }
  const textEmbeds = unet.conditioning.find((s) => s.name === TEXT_EMBEDS)!;
  const timeIds = unet.conditioning.find((s) => s.name === TIME_IDS)!;
  const pooled = fixedDim(io2.pooled!.shape[1]);
  const unetPooled = fixedDim(textEmbeds.shape[1]);
  if (pooled !== undefined && unetPooled !== undefined && pooled !== unetPooled) {
    throw new Error(`${unetLabel}: text_embeds has size ${unetPooled} but text_encoder_2 outputs text_embeds of size ${pooled}`);
  }
  const timeIdsSize = fixedDim(timeIds.shape[1]);
  if (timeIdsSize !== undefined && timeIdsSize !== 6) {
    throw new Error(`${unetLabel}: time_ids has size ${timeIdsSize}, expected 6 (original size, crop top-left, target size; a refiner's aesthetic-score ids are not supported)`);
  }
  // each tokenizer folder carries its own pad token: SDXL's tokenizer_2 pads with "!"
  const tokenizer1 = ClipTokenizer.fromModelDir(path.dirname(files.vocab!));
  const tokenizer2 = ClipTokenizer.fromModelDir(path.dirname(files.vocab2!));
  const forceZeros = folder.modelIndex.force_zeros_for_empty_prompt !== false;
  return {
    encoders: [
      { key: 'textEncoder', file: files.textEncoder!, overrides: knownDims([io1.ids], { input_ids: [undefined, tokenizer1.maxLength] }) },
      { key: 'textEncoder2', file: files.textEncoder2!, overrides: knownDims([io2.ids], { input_ids: [undefined, tokenizer2.maxLength] }) },
    ],
    hiddenSize: unetHidden ?? (d1 !== undefined && d2 !== undefined ? d1 + d2 : undefined),
    sequence: tokenizer1.maxLength,
    summary: { textIds: [io1.ids.type, io2.ids.type], hiddenStates: [io1.output.name, io2.output.name], forceZerosForEmptyPrompt: forceZeros },
    createConditioner(models) {
      const encoder1 = new TextEncoder(models.textEncoder, io1, tokenizer1);
      const encoder2 = new TextEncoder(models.textEncoder2, io2, tokenizer2);
      const hiddenName = unet.hidden.name;
      const cache = new PromptCache<Conditioning>();
      const prompt = (text: string) =>
        cache.get(text, async () => {
          const a = await encoder1.encode(text);
          const b = await encoder2.encode(text);
          return { [hiddenName]: concatFeatures(a.hidden, b.hidden, tokenizer1.maxLength), [TEXT_EMBEDS]: b.pooled! };
        });
      return {
        prompt,
        unconditional(negative, cond) {
          // diffusers zeroes when negative_prompt is None; an empty or blank --no is treated as none
          if (forceZeros && (negative === undefined || negative.trim() === '')) {
            return Promise.resolve(Object.fromEntries(Object.entries(cond).map(([name, v]) => [name, new Float32Array(v.length)])));
          }
          return prompt(negative ?? '');
        },
        image: ({ width, height }) => ({ [TIME_IDS]: Float32Array.of(height, width, 0, 0, height, width) }),
      };
    },
  };
}

/** [seq, d1] and [seq, d2] -> [seq, d1 + d2]: each token's features from encoder 1, then encoder 2. */
export function concatFeatures(a: Float32Array, b: Float32Array, seq: number): Float32Array {
  const d1 = a.length / seq;
  const d2 = b.length / seq;
  if (!Number.isInteger(d1) || !Number.isInteger(d2)) throw new Error(`text encoder hidden states are not ${seq} positions long`);
  const out = new Float32Array(a.length + b.length);
  for (let t = 0; t < seq; t++) {
    out.set(a.subarray(t * d1, (t + 1) * d1), t * (d1 + d2));
    out.set(b.subarray(t * d2, (t + 1) * d2), t * (d1 + d2) + d1);
  }
  return out;
}
