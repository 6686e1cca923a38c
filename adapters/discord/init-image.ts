/**
 * An image attached to /imagine becomes the img2img start image: checked before anything is
 * queued (format, byte size and dimensions, first from what Discord says about the attachment,
 * then from the bytes themselves), decoded in full, normalised to PNG, and stored in the
 * artifact store where the worker reads it.
 *
 * Fetching and storing cost bandwidth, memory and disk, so they run only for a job the queue
 * has admitted (the queue's prepare step, after the slot is reserved), and the download stops
 * as soon as it passes the size limit instead of reading the whole body first.
 */
import sharp, { type Metadata } from 'sharp';
import type { ArtifactStore } from '../../src/artifacts.ts';
import { InvalidJobError } from '../../src/jobs.ts';

export const INIT_IMAGE_MAX_BYTES = 10 * 1024 * 1024;
export const INIT_IMAGE_MAX_SIDE = 4096;
export const INIT_IMAGE_MIN_SIDE = 32;
const FORMATS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/webp': 'webp' };
const DOWNLOAD_TIMEOUT_MS = 15_000;

/** What Discord tells us about an attachment (discord.js Attachment has these fields). */
export interface AttachmentInfo {
  id: string;
  name: string;
  url: string;
  size: number;
  contentType: string | null;
  width: number | null;
  height: number | null;
}

/** A user-facing reason the image cannot be used: the job is refused with it, like any invalid job. */
export class InitImageError extends InvalidJobError {
  constructor(message: string) {
    super(message, 'start image');
    this.name = 'InitImageError';
  }
}

/** Checks that need no download: a refusal here costs the user no wait. */
export function precheckAttachment(a: AttachmentInfo): string | null {
  const type = a.contentType?.split(';')[0].trim().toLowerCase() ?? '';
  if (!FORMATS[type]) return `The attached file (${a.name}) is not a PNG, JPEG or WebP image.`;
  if (a.size > INIT_IMAGE_MAX_BYTES) return `The attached image is ${(a.size / 1024 / 1024).toFixed(1)} MB; the limit is ${INIT_IMAGE_MAX_BYTES / 1024 / 1024} MB.`;
  if (a.width !== null && a.height !== null) {
    const problem = sideProblem(a.width, a.height);
    if (problem) return problem;
  }
  return null;
}

function sideProblem(width: number, height: number): string | null {
  if (Math.max(width, height) > INIT_IMAGE_MAX_SIDE) return `The attached image is ${width}x${height}; sides of at most ${INIT_IMAGE_MAX_SIDE} px are accepted.`;
  if (Math.min(width, height) < INIT_IMAGE_MIN_SIDE) return `The attached image is ${width}x${height}; sides of at least ${INIT_IMAGE_MIN_SIDE} px are needed.`;
  return null;
}

const OVER_LIMIT = `The attached image is over the ${INIT_IMAGE_MAX_BYTES / 1024 / 1024} MB limit.`;
const UNREADABLE = 'The attached image could not be read (the file may be damaged or cut short); please attach it again.';

/** The body, read chunk by chunk and abandoned (connection closed) as soon as it passes the limit. */
async function download(url: string): Promise<Buffer> {
  const signal = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  const failed = (err: unknown) =>
    new InitImageError(`The attached image could not be downloaded (${(err as Error).name === 'TimeoutError' ? 'timed out' : 'network error'}); please try again.`);
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    throw failed(err);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new InitImageError(`The attached image could not be downloaded (HTTP ${res.status}); please try again.`);
  }
  const reader = res.body.getReader();
  const abandon = () => reader.cancel().catch(() => undefined);
  if (Number(res.headers.get('content-length') ?? NaN) > INIT_IMAGE_MAX_BYTES) {
    await abandon();
    throw new InitImageError(OVER_LIMIT);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      throw failed(err);
    }
    if (next.done) break;
    total += next.value.byteLength;
    if (total > INIT_IMAGE_MAX_BYTES) {
      await abandon();
      throw new InitImageError(OVER_LIMIT);
    }
    chunks.push(next.value);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Download, verify the bytes really are an accepted image and decode them in full (a file cut
 * short passes the header checks but not this), store it as PNG; returns the artifact key.
 */
export async function storeInitImage(artifacts: ArtifactStore, attachment: AttachmentInfo, eventId: string): Promise<string> {
  const bytes = await download(attachment.url);
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch {
    throw new InitImageError('The attached file is not a readable image.');
  }
  if (!meta.format || !['png', 'jpeg', 'webp'].includes(meta.format)) throw new InitImageError('The attached file is not a PNG, JPEG or WebP image.');
  if ((meta.pages ?? 1) > 1) throw new InitImageError('Animated images cannot be used as a starting image.');
  const problem = sideProblem(meta.width ?? 0, meta.height ?? 0);
  if (problem) throw new InitImageError(problem);
  let png: Buffer;
  try {
    // Phone photos carry their orientation in EXIF; apply it so the start image looks as the user sees it.
    // failOn 'warning' (stated, not left to the default): truncated or corrupt data is an error, never a half-grey image.
    png = await sharp(bytes, { failOn: 'warning' }).rotate().removeAlpha().png().toBuffer();
  } catch {
    throw new InitImageError(UNREADABLE);
  }
  const key = `uploads/discord-${eventId.replace(/[^\w-]/g, '')}.png`;
  await artifacts.put(key, png, 'image/png');
  return key;
}
