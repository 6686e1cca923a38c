/**
 * Masked generation (zoom out, pan, vary region): draw where the mask is white, follow the
 * source image everywhere else. It works with any UNet:
 *   - an ordinary UNet: after every step the kept area of the latents is replaced by the
 *     source's latents noised to the next step's level (scheduler.addNoise), so the new area
 *     is denoised in agreement with what surrounds it;
 *   - an inpainting UNet (2C + 1 input channels): the mask and the masked image's latents go
 *     in beside the latents at every step, as diffusers' StableDiffusionInpaintPipeline does.
 * Either way the decoded image is composited over the source in pixel space with a feathered
 * mask, so pixels farther than the feather from the drawn area are the source's, exactly.
 */
import sharp from 'sharp';
import { loadRgb, rgbToChw } from './images.ts';
import type { Scheduler } from './schedulers/index.ts';
import type { Vae } from './vae.ts';
import type { GenerateRequest } from './request.ts';

export interface MaskState {
  /** latent resolution, 1 where any pixel of the cell is drawn */
  latentMask: Float32Array;
  /** the canvas's latents: the kept area the denoising follows, and the start of a strength below 1 */
  known: Float32Array;
  /** an inpainting UNet's extra input: the latent mask, then the masked image's latents */
  unetExtras?: Float32Array;
  /** per pixel, how much of the generated image the result shows (1 in the drawn area, fading to 0 over the feather) */
  weight: Float32Array;
  source: Uint8Array;
}

/** The feather's width in pixels: about 1/32 of the shorter side, at least 2. */
export function featherRadius(width: number, height: number): number {
  return Math.max(2, Math.round(Math.min(width, height) / 32));
}

/** The mask PNG as 0/1 per pixel (1 = draw); it must have the request's size. */
async function readMask(mask: Buffer, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await sharp(mask).removeAlpha().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height) {
    throw new Error(`the mask is ${info.width}x${info.height} but the request is ${width}x${height}; masks must have the image's size`);
  }
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels] >= 128 ? 1 : 0;
  return out;
}

/** One pass of a box blur of radius r along rows (step 1) or columns (step width). */
function boxPass(src: Float32Array, width: number, height: number, r: number, horizontal: boolean): Float32Array {
  const out = new Float32Array(src.length);
  const lines = horizontal ? height : width;
  const length = horizontal ? width : height;
  const step = horizontal ? 1 : width;
  for (let line = 0; line < lines; line++) {
    const start = horizontal ? line * width : line;
    for (let i = 0; i < length; i++) {
      let sum = 0;
      let count = 0;
      for (let k = Math.max(0, i - r); k <= Math.min(length - 1, i + r); k++) {
        sum += src[start + k * step];
        count++;
      }
      out[start + i * step] = sum / count;
    }
  }
  return out;
}

/**
 * The composite weight: the drawn area at 1, spreading outwards over `radius` pixels (a box
 * blur of the mask, never below the mask), 0 beyond. The kept area's pixels farther than the
 * radius from the drawn area keep weight 0, so they stay the source's bytes.
 */
export function featherWeight(mask: Uint8Array, width: number, height: number, radius: number): Float32Array {
  const m = Float32Array.from(mask);
  const blurred = boxPass(boxPass(m, width, height, radius, true), width, height, radius, false);
  for (let i = 0; i < m.length; i++) m[i] = mask[i] ? 1 : blurred[i] > 0 ? Math.min(1, 2 * blurred[i]) : 0;
  return m;
}

export async function prepareMask(vae: Vae, req: GenerateRequest, inpaintingUnet: boolean): Promise<MaskState> {
  const { width, height } = req;
  const inpaint = req.inpaint!;
  const [source, mask] = await Promise.all([loadRgb(inpaint.image, width, height), readMask(inpaint.mask, width, height)]);
  const scale = vae.scale;
  const lw = width / scale;
  const lh = height / scale;
  const latentMask = new Float32Array(lw * lh);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (mask[y * width + x]) latentMask[Math.floor(y / scale) * lw + Math.floor(x / scale)] = 1;
  }
  // The canvas as it is: what the kept area follows, and where a strength below 1 starts from.
  const canvas = await vae.encode(rgbToChw(source, width, height), height, width);
  let unetExtras: Float32Array | undefined;
  if (inpaintingUnet) {
    // The inpainting UNet's masked image: the drawn area at 0 (mid grey in [-1, 1]), as diffusers prepares it.
    const chw = rgbToChw(source, width, height);
    const plane = width * height;
    for (let i = 0; i < plane; i++) if (mask[i]) for (let c = 0; c < 3; c++) chw[c * plane + i] = 0;
    const masked = await vae.encode(chw, height, width);
    unetExtras = new Float32Array(latentMask.length + masked.length);
    unetExtras.set(latentMask, 0);
    unetExtras.set(masked, latentMask.length);
  }
  return { latentMask, known: canvas, unetExtras, weight: featherWeight(mask, width, height, featherRadius(width, height)), source };
}

/**
 * After a step of an ordinary UNet: the kept cells of `latent` become the source's latents at
 * the noise level of `next` (the timestep the latent is now at), or the clean latents after
 * the last step.
 */
export function keepKnown(state: MaskState, latent: Float32Array, scheduler: Scheduler, noise: Float32Array, next: number | undefined): void {
  const known = next === undefined ? state.known : scheduler.addNoise(state.known, noise, next);
  const plane = state.latentMask.length;
  for (let i = 0; i < latent.length; i++) {
    const m = state.latentMask[i % plane];
    if (m === 0) latent[i] = known[i];
  }
}

/** The generated pixels over the source with the feathered weight (in place). */
export function compositeOverSource(state: MaskState, rgb: Uint8Array): void {
  const { weight, source } = state;
  for (let p = 0; p < weight.length; p++) {
    const w = weight[p];
    if (w === 1) continue;
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      rgb[i] = w === 0 ? source[i] : Math.round(w * rgb[i] + (1 - w) * source[i]);
    }
  }
}
