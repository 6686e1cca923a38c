/**
 * A progress preview straight from the latents: a fixed linear map of the 4 SD latent
 * channels to RGB (the well-known SD 1.x approximation), at latent resolution. No VAE
 * run, so it costs a few microseconds per pixel and nothing unless someone asks.
 */
import { encodePng } from './images.ts';

// rows: latent channel; columns: R, G, B
const LATENT_RGB = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

/** `latent` holds one image's [channels, height, width] values (extra channels are ignored). */
export function latentPreviewRgb(latent: Float32Array, channels: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const used = Math.min(channels, LATENT_RGB.length);
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < used; k++) v += latent[k * plane + i] * LATENT_RGB[k][c];
      const byte = Math.round((v + 1) * 127.5);
      out[i * 3 + c] = byte < 0 ? 0 : byte > 255 ? 255 : byte;
    }
  }
  return out;
}

export function latentPreviewPng(latent: Float32Array, channels: number, height: number, width: number): Promise<Buffer> {
  return encodePng(latentPreviewRgb(latent, channels, height, width), width, height);
}
