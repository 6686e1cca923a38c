/**
 * Make an image fit Discord's per-attachment size limit instead of failing the delivery:
 * a PNG over the limit is re-encoded (WebP, then JPEG, at decreasing quality), and only if
 * that is not enough, downscaled step by step. The caller notes in the message what happened,
 * so nobody mistakes a re-encoded image for the original.
 */
import sharp from 'sharp';

/** What Discord allows everywhere when the interaction does not say otherwise. */
export const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;

export interface FittedImage {
  data: Buffer;
  /** File extension without the dot: png, webp or jpg. */
  ext: 'png' | 'webp' | 'jpg';
  contentType: string;
  width: number;
  height: number;
  /** null when the original bytes were kept. */
  change: null | { format: 'webp' | 'jpeg'; quality: number; scaled: boolean; originalBytes: number };
}

const WEBP_QUALITIES = [90, 80, 65, 50];
const JPEG_QUALITIES = [85, 70, 55];
/** Each downscale step keeps this fraction of the sides (about half the pixels). */
const SCALE_STEP = 0.7;
const MIN_SIDE = 16;

export async function fitImage(png: Buffer, limitBytes: number): Promise<FittedImage> {
  const meta = await sharp(png).metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (png.length <= limitBytes) return { data: png, ext: 'png', contentType: 'image/png', width, height, change: null };

  const attempt = async (w: number, h: number, format: 'webp' | 'jpeg', quality: number): Promise<FittedImage | null> => {
    let pipeline = sharp(png);
    if (w !== width || h !== height) pipeline = pipeline.resize(w, h, { fit: 'fill', kernel: 'lanczos3' });
    // JPEG has no alpha: flatten onto white so transparent pixels do not turn black.
    const data = format === 'webp' ? await pipeline.webp({ quality, effort: 4 }).toBuffer() : await pipeline.flatten({ background: '#ffffff' }).jpeg({ quality, mozjpeg: true }).toBuffer();
    if (data.length > limitBytes) return null;
    return {
      data,
      ext: format === 'webp' ? 'webp' : 'jpg',
      contentType: `image/${format}`,
      width: w,
      height: h,
      change: { format, quality, scaled: w !== width || h !== height, originalBytes: png.length },
    };
  };

  for (const q of WEBP_QUALITIES) {
    const fitted = await attempt(width, height, 'webp', q);
    if (fitted) return fitted;
  }
  for (const q of JPEG_QUALITIES) {
    const fitted = await attempt(width, height, 'jpeg', q);
    if (fitted) return fitted;
  }
  let w = width;
  let h = height;
  while (Math.min(w, h) > MIN_SIDE) {
    w = Math.max(MIN_SIDE, Math.round(w * SCALE_STEP));
    h = Math.max(MIN_SIDE, Math.round(h * SCALE_STEP));
    const fitted = await attempt(w, h, 'webp', WEBP_QUALITIES[1]);
    if (fitted) return fitted;
  }
  throw new Error(`image of ${png.length} bytes cannot be brought under ${limitBytes} bytes even at ${w}x${h}`);
}

/** The note shown under a re-encoded image. */
export function describeFit(fit: FittedImage): string | null {
  if (!fit.change) return null;
  const kb = (n: number) => `${Math.round(n / 1024)} KB`;
  const how = fit.change.scaled ? `re-encoded as ${fit.change.format.toUpperCase()} and downscaled to ${fit.width}x${fit.height}` : `re-encoded as ${fit.change.format.toUpperCase()} (quality ${fit.change.quality})`;
  return `The PNG (${kb(fit.change.originalBytes)}) was over this server's upload limit, so it was ${how}.`;
}
