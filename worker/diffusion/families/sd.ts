/**
 * Stable Diffusion 1.x / 2.x (and LCM-distilled SD UNets): one CLIP tokenizer and text
 * encoder, the UNet conditioned on its last hidden state, a VAE with scaling factor
 * 0.18215. The contract of diffusers' StableDiffusionPipeline / OnnxStableDiffusionPipeline.
 */
import path from 'node:path';
import { SD_FAMILY } from '../../../src/model-families.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { checkTextEncoder, knownDims } from '../model-contract.ts';
import { TextEncoder } from '../text-encoder.ts';
import { PromptCache } from '../prompt-cache.ts';
import { DEFAULT_VAE_TILING } from '../tiling.ts';
import { configInteger, fixedDim } from './dims.ts';
import type { Conditioning, ModelFamily, TextPlan, TextPlanContext } from './types.ts';

export const sdFamily: ModelFamily = {
  ...SD_FAMILY,
  files: [
    { key: 'textEncoder', rel: 'text_encoder/model.onnx', what: 'the CLIP text encoder exported to ONNX' },
    { key: 'vocab', rel: 'tokenizer/vocab.json', what: 'the CLIP tokenizer vocabulary' },
    { key: 'merges', rel: 'tokenizer/merges.txt', what: 'the CLIP tokenizer BPE merges' },
  ],
  defaults: { ...SD_FAMILY.defaults, scalingFactor: 0.18215, forceUpcast: false, vaeTiling: DEFAULT_VAE_TILING },
  unetInputs: [],
  // the well-known SD 1.x approximation (A1111's and ComfyUI's previews)
  latentRgb: {
    factors: [
      [0.298, 0.207, 0.208],
      [0.187, 0.286, 0.173],
      [-0.158, 0.189, 0.264],
      [-0.184, -0.271, -0.473],
    ],
    bias: [0, 0, 0],
  },
  planText: planSdText,
};

function planSdText(ctx: TextPlanContext): TextPlan {
  const { folder, unet } = ctx;
  const file = folder.files.textEncoder!;
  const io = checkTextEncoder(ctx.label(file), ctx.iface(file));
  const unetHidden = fixedDim(unet.hidden.shape[2]) ?? configInteger(folder.unetConfig?.cross_attention_dim);
  const textHidden = fixedDim(io.output.shape[2]) ?? configInteger(folder.textEncoderConfig?.hidden_size);
  if (unetHidden !== undefined && textHidden !== undefined && unetHidden !== textHidden) {
    throw new Error(`${ctx.label(folder.files.unet)}: encoder_hidden_states has size ${unetHidden} but the text encoder outputs ${textHidden}`);
  }
  const tokenizer = ClipTokenizer.fromModelDir(path.dirname(folder.files.vocab!));
  return {
    encoders: [{ key: 'textEncoder', file, overrides: knownDims([io.ids], { input_ids: [undefined, tokenizer.maxLength] }) }],
    hiddenSize: unetHidden ?? textHidden,
    sequence: tokenizer.maxLength,
    summary: { textIds: io.ids.type },
    createConditioner(models) {
      const encoder = new TextEncoder(models.textEncoder, io, tokenizer);
      const hiddenName = unet.hidden.name;
      const cache = new PromptCache<Conditioning>();
      const prompt = (text: string) => cache.get(text, async () => ({ [hiddenName]: (await encoder.encode(text)).hidden }));
      return {
        prompt,
        // SD's unconditional half is the negative prompt's (or the empty prompt's) encoding
        unconditional: (negative) => prompt(negative ?? ''),
        image: () => ({}),
      };
    },
  };
}
