/**
 * Where an edit's source goes on its canvas (the job's width x height) and which part is
 * drawn, as the two PNGs a masked generation takes: the canvas with the source in place, and
 * the mask (white = draw).
 *   zoom:   the source shrunk by the factor, centred; the border is drawn.
 *   pan:    the source at the canvas's full height (left/right) or width (up/down), against
 *           the side opposite the pan; the strip it leaves is drawn.
 *   region: the source over the whole canvas; the mask is the user's, resized to the canvas.
 * The area outside the source is filled by repeating its edge, which only the encoder sees.
 */
import sharp from 'sharp';
import type { Edit } from '../src/jobs.ts';

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Pixels a drawn strip keeps at least, so a pan always draws something. */
const MIN_STRIP = 8;

/** The source's place on a width x height canvas (zoom and pan). */
export function keptRect(edit: Exclude<Edit, { type: 'region' }>, source: { width: number; height: number }, width: number, height: number): Rect {
  if (edit.type === 'zoom') {
    const w = Math.max(1, Math.round(width / edit.factor));
    const h = Math.max(1, Math.round(height / edit.factor));
    return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
  }
  if (edit.direction === 'left' || edit.direction === 'right') {
    const w = Math.max(1, Math.min(width - MIN_STRIP, Math.round((source.width * height) / source.height)));
    return { left: edit.direction === 'right' ? 0 : width - w, top: 0, width: w, height };
  }
  const h = Math.max(1, Math.min(height - MIN_STRIP, Math.round((source.height * width) / source.width)));
  return { left: 0, top: edit.direction === 'down' ? 0 : height - h, width, height: h };
}

/** A white mask with `rect` black: draw everything but the source. */
async function maskOutside(rect: Rect, width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height, 255);
  for (let y = rect.top; y < rect.top + rect.height; y++) data.fill(0, y * width + rect.left, y * width + rect.left + rect.width);
  return sharp(data, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

export interface EditCanvas {
  /** PNG, width x height: the source in place */
  image: Buffer;
  /** PNG, width x height, white = draw */
  mask: Buffer;
}

export async function zoomOrPanCanvas(edit: Exclude<Edit, { type: 'region' }>, source: Buffer, sourceSize: { width: number; height: number }, width: number, height: number): Promise<EditCanvas> {
  const rect = keptRect(edit, sourceSize, width, height);
  const image = await sharp(source)
    .removeAlpha()
    .resize(rect.width, rect.height, { fit: 'fill', kernel: 'lanczos3' })
    .extend({ left: rect.left, top: rect.top, right: width - rect.left - rect.width, bottom: height - rect.top - rect.height, extendWith: 'copy' })
    .png()
    .toBuffer();
  return { image, mask: await maskOutside(rect, width, height) };
}

export async function regionCanvas(source: Buffer, mask: Buffer, width: number, height: number): Promise<EditCanvas> {
  const [image, resizedMask] = await Promise.all([
    sharp(source).removeAlpha().resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).png().toBuffer(),
    sharp(mask).removeAlpha().toColourspace('b-w').resize(width, height, { fit: 'fill', kernel: 'nearest' }).png().toBuffer(),
  ]);
  return { image, mask: resizedMask };
}
