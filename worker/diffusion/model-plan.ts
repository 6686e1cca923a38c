/**
 * Everything about a model folder that can be checked without creating a session, so a
 * bad folder fails fast with the file and the expectation named: the family's files and
 * text encoders, the UNet's inputs (the family's extras included), the VAE halves, the
 * safety checker, the scheduler config, and the sizes the sessions can be told up front.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FEATURE_EXTRACTOR_CONFIG, readModelFolder, relative, type ModelFolder } from './model-folder.ts';
import { readOnnxInterface } from './onnx-header.ts';
import { checkSafetyChecker, checkUNet, checkVaeDecoder, checkVaeEncoder, type SafetyCheckerIO, type UNetIO, type VaeDecoderIO, type VaeEncoderIO } from './model-contract.ts';
import { readClipPreprocessing, type ClipPreprocessing } from './safety-checker.ts';
import { createScheduler } from './schedulers/index.ts';
import { configInteger, fixedDim } from './families/dims.ts';
import type { ModelInterface } from './model-contract.ts';
import type { TextPlan } from './families/types.ts';

export interface ModelPlan {
  folder: ModelFolder;
  text: TextPlan;
  io: { unet: UNetIO; decoder: VaeDecoderIO; encoder?: VaeEncoderIO };
  latentChannels: number;
  /** the UNet's sample channels: latentChannels, or 2 × latentChannels + 1 for an inpainting UNet */
  sampleChannels: number;
  hiddenSize?: number;
  /** LCM's guidance embedding size; 0 when the UNet takes no timestep_cond */
  condDim: number;
  /** a UNet exported with fixed height and width serves that size only */
  staticSize?: { width: number; height: number };
  /** the folder's safety checker: its file, interface and how its clip_input is prepared */
  safety?: { file: string; io: SafetyCheckerIO; preprocessing: ClipPreprocessing };
}

export function planModel(dir: string): ModelPlan {
  const folder = readModelFolder(dir);
  const label = (file: string) => `model folder ${dir}: ${relative(dir, file)}`;
  const iface = (file: string): ModelInterface => {
    let found;
    try {
      found = readOnnxInterface(file);
    } catch (err) {
      throw new Error(`${label(file)} is not a readable ONNX model: ${(err as Error).message}`, { cause: err });
    }
    for (const data of found.externalFiles) {
      const weights = path.resolve(path.dirname(file), data);
      if (!fs.existsSync(weights)) throw new Error(`${label(file)} keeps its weights in ${data}, which is missing: expected ${relative(dir, weights)}`);
    }
    return found;
  };
  const { files, family } = folder;
  const unet = checkUNet(label(files.unet), iface(files.unet), family.unetInputs);
  const text = family.planText({ folder, unet, iface, label });
  const io = {
    unet,
    decoder: checkVaeDecoder(label(files.vaeDecoder), iface(files.vaeDecoder)),
    encoder: files.vaeEncoder ? checkVaeEncoder(label(files.vaeEncoder), iface(files.vaeEncoder)) : undefined,
  };
  const checker = files.safetyChecker;
  const safety = checker
    ? {
        file: checker,
        io: checkSafetyChecker(label(checker), iface(checker)),
        preprocessing: readClipPreprocessing(folder.featureExtractorConfig, `model folder ${dir}: ${FEATURE_EXTRACTOR_CONFIG}`),
      }
    : undefined;
  try {
    createScheduler('euler', folder.schedulerConfig);
  } catch (err) {
    throw new Error(`${label(files.schedulerConfig)}: ${(err as Error).message}`, { cause: err });
  }

  const batch = fixedDim(unet.sample.shape[0]);
  if (batch !== undefined) {
    throw new Error(`${label(files.unet)}: input "sample" has a fixed batch size of ${batch}; this pipeline batches images and needs a free batch axis (re-export with a dynamic batch)`);
  }
  const staticH = fixedDim(unet.sample.shape[2]);
  const staticW = fixedDim(unet.sample.shape[3]);
  const sampleChannels = fixedDim(unet.sample.shape[1]) ?? configInteger(folder.unetConfig?.in_channels);
  const decoderChannels = fixedDim(io.decoder.latent.shape[1]);
  const latentChannels =
    decoderChannels ?? configInteger(folder.vaeConfig?.latent_channels) ?? configInteger(folder.unetConfig?.out_channels) ?? sampleChannels ?? 4;
  // An inpainting UNet (as Optimum exports SD and SDXL inpainting models) reads the latents,
  // the mask and the masked image's latents stacked on the channel axis: 2C + 1 channels.
  const inpainting = sampleChannels === 2 * latentChannels + 1;
  if (sampleChannels !== undefined && sampleChannels !== latentChannels && !inpainting && decoderChannels !== undefined) {
    throw new Error(
      `${label(files.vaeDecoder)}: latent_sample has ${decoderChannels} channels but the UNet's sample has ${sampleChannels} ` +
        `(an inpainting UNet's has ${2 * decoderChannels + 1}: latents, mask, masked-image latents)`,
    );
  }
  if (sampleChannels !== undefined && sampleChannels !== latentChannels && !inpainting) {
    throw new Error(
      `${label(files.unet)}: input "sample" has ${sampleChannels} channels but the VAE's latents have ${latentChannels} ` +
        `(expected ${latentChannels}, or ${2 * latentChannels + 1} for an inpainting UNet: latents, mask, masked-image latents)`,
    );
  }
  let condDim = 0;
  if (unet.timestepCond) {
    condDim = fixedDim(unet.timestepCond.shape[1]) ?? configInteger(folder.unetConfig?.time_cond_proj_dim) ?? 0;
    if (!condDim) {
      throw new Error(`${label(files.unet)}: timestep_cond has no fixed size and unet/config.json has no time_cond_proj_dim (expected the guidance embedding size, e.g. 256)`);
    }
  }
  const staticSize =
    staticH !== undefined && staticW !== undefined ? { width: staticW * folder.vaeScaleFactor, height: staticH * folder.vaeScaleFactor } : undefined;
  return { folder, text, io, latentChannels, sampleChannels: inpainting ? sampleChannels : latentChannels, hiddenSize: text.hiddenSize, condDim, staticSize, safety };
}
