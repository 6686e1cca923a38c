/**
 * A progress preview straight from the latents: the model family's fixed linear map of
 * the latent channels to RGB, at latent resolution. No VAE run, so it costs a few
 * microseconds per pixel and nothing unless someone asks.
 */
import { encodePng } from './images.ts';
import type { LatentRgb } from './families/types.ts';

/** `latent` holds one image's [channels, height, width] values (extra channels are ignored). */
export function latentPreviewRgb(latent: Float32Array, channels: number, height: number, width: number, map: LatentRgb): Uint8Array {
  const plane = height * width;
  const used = Math.min(channels, map.factors.length);
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = map.bias[c];
      for (let k = 0; k < used; k++) v += latent[k * plane + i] * map.factors[k][c];
      const byte = Math.round((v + 1) * 127.5);
      out[i * 3 + c] = byte < 0 ? 0 : byte > 255 ? 255 : byte;
    }
  }
  return out;
}

export function latentPreviewPng(latent: Float32Array, channels: number, height: number, width: number, map: LatentRgb): Promise<Buffer> {
  return encodePng(latentPreviewRgb(latent, channels, height, width, map), width, height);
}
