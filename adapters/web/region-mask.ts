/**
 * The mask the region editor uploads: a PNG the size of the image, white where the image is to
 * be repainted. It comes from a browser, so it is checked with sharp before anything is kept
 * (a PNG, small, the image's own size, something drawn), then stored as a clean two-level
 * greyscale PNG (0 or 255 per pixel) in the artifact store for the worker (the region job's
 * maskArtifactKey).
 */
import { randomBytes } from 'node:crypto';
import sharp, { type Metadata } from 'sharp';
import type { ArtifactStore } from '../../src/artifacts.ts';

/** A drawn mask compresses to a few KB; anything near this is not one. */
export const MAX_MASK_BYTES = 1024 * 1024;

export class MaskError extends Error {}

/** The mask as the browser sent it: a data: URL or bare base64. */
export function maskBytes(value: unknown): Buffer {
  if (typeof value !== 'string' || value.length === 0) throw new MaskError('Draw the region to repaint first.');
  const base64 = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
  if (base64.length > Math.ceil((MAX_MASK_BYTES * 4) / 3) + 4) throw new MaskError(`The mask is too large (at most ${MAX_MASK_BYTES / 1024} KB).`);
  return Buffer.from(base64, 'base64');
}

/** Checks the uploaded mask against the image and stores its clean form; returns the artifact key. */
export async function storeMask(artifacts: ArtifactStore, upload: Buffer, image: { width: number; height: number }): Promise<string> {
  if (upload.length > MAX_MASK_BYTES) throw new MaskError(`The mask is too large (at most ${MAX_MASK_BYTES / 1024} KB).`);
  let meta: Metadata;
  try {
    meta = await sharp(upload, { limitInputPixels: 4096 * 4096 }).metadata();
  } catch {
    throw new MaskError('The mask is not an image.');
  }
  if (meta.format !== 'png') throw new MaskError(`The mask must be a PNG; got ${meta.format ?? 'something else'}.`);
  if (meta.width !== image.width || meta.height !== image.height) {
    throw new MaskError(`The mask must be ${image.width}x${image.height}, the size of the image; got ${meta.width}x${meta.height}.`);
  }
  // Transparent counts as kept (black): the editor's canvas may send its drawing on a clear background.
  const clean = await sharp(upload).flatten({ background: '#000000' }).greyscale().threshold(128).toColourspace('b-w').png().toBuffer();
  const { channels } = await sharp(clean).stats();
  if (channels[0].max < 255) throw new MaskError('Nothing was drawn: paint over the region to repaint, then send.');
  const key = `masks/${Date.now().toString(36)}-${randomBytes(8).toString('hex')}.png`;
  await artifacts.put(key, clean, 'image/png');
  return key;
}
