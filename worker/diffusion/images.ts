/**
 * Image I/O for the pipeline with sharp: tensors <-> RGB, PNG with the generation
 * parameters in the format other SD tools (A1111, ComfyUI, civitai) read, and grids.
 */
import sharp from 'sharp';
import { halfDecodeTable } from './float16.ts';
import { addPngText, readPngTexts } from './png-text.ts';
import { samplerFromLabel, samplerLabel } from './schedulers/table.ts';

export interface ImageParameters {
  prompt: string;
  negativePrompt?: string;
  steps: number;
  /** Scheduler name as this project spells it (`euler_a`); written with A1111's label. */
  sampler: string;
  cfgScale: number;
  seed: number;
  width: number;
  height: number;
  model: string;
  denoisingStrength?: number;
  variationSeed?: number;
  variationStrength?: number;
  /** what a masked edit did, e.g. "Zoom out 2x" */
  edit?: string;
}


// A1111 quotes a value that would break its own `key: value, ` parsing.
function quote(value: string): string {
  return /[,:"\n]/.test(value) ? JSON.stringify(value) : value;
}

export function formatParameters(p: ImageParameters): string {
  const fields: [string, string | number][] = [
    ['Steps', p.steps],
    ['Sampler', samplerLabel(p.sampler)],
    ['CFG scale', p.cfgScale],
    ['Seed', p.seed],
    ['Size', `${p.width}x${p.height}`],
    ['Model', p.model],
  ];
  if (p.denoisingStrength !== undefined) fields.push(['Denoising strength', p.denoisingStrength]);
  if (p.variationSeed !== undefined) fields.push(['Variation seed', p.variationSeed]);
  if (p.variationStrength !== undefined) fields.push(['Variation seed strength', p.variationStrength]);
  if (p.edit !== undefined) fields.push(['Edit', p.edit]);
  const lines = [p.prompt];
  if (p.negativePrompt) lines.push(`Negative prompt: ${p.negativePrompt}`);
  lines.push(fields.map(([k, v]) => `${k}: ${quote(String(v))}`).join(', '));
  return lines.join('\n');
}

const PARAM_RE = /\s*([\w ./-]+):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/g;

export function parseParameters(text: string): ImageParameters {
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  const fields = new Map<string, string>();
  for (const m of last.matchAll(PARAM_RE)) {
    const raw = m[2].trim();
    fields.set(m[1].trim(), raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  const negAt = lines.findIndex((l) => l.startsWith('Negative prompt: '));
  const prompt = (negAt < 0 ? lines : lines.slice(0, negAt)).join('\n');
  const negativePrompt = negAt < 0 ? undefined : lines.slice(negAt).join('\n').slice('Negative prompt: '.length);
  const num = (key: string): number | undefined => (fields.has(key) ? Number(fields.get(key)) : undefined);
  const need = (key: string): string => {
    const v = fields.get(key);
    if (v === undefined) throw new Error(`PNG parameters have no "${key}" field: ${JSON.stringify(last)}`);
    return v;
  };
  const size = /^(\d+)x(\d+)$/.exec(need('Size'));
  if (!size) throw new Error(`PNG parameters: bad Size ${JSON.stringify(fields.get('Size'))}`);
  const label = need('Sampler');
  const out: ImageParameters = {
    prompt,
    steps: Number(need('Steps')),
    sampler: samplerFromLabel(label),
    cfgScale: Number(need('CFG scale')),
    seed: Number(need('Seed')),
    width: Number(size[1]),
    height: Number(size[2]),
    model: need('Model'),
  };
  if (negativePrompt !== undefined) out.negativePrompt = negativePrompt;
  const strength = num('Denoising strength');
  if (strength !== undefined) out.denoisingStrength = strength;
  const vSeed = num('Variation seed');
  if (vSeed !== undefined) out.variationSeed = vSeed;
  const vStrength = num('Variation seed strength');
  if (vStrength !== undefined) out.variationStrength = vStrength;
  const edit = fields.get('Edit');
  if (edit !== undefined) out.edit = edit;
  return out;
}

/** The `parameters` chunk of a PNG, parsed; null when the PNG has none. */
export function readPngParameters(png: Buffer): ImageParameters | null {
  const text = readPngTexts(png).get('parameters');
  return text === undefined ? null : parseParameters(text);
}

/** Interleaved 8-bit RGB -> PNG, optionally carrying a `parameters` text chunk. */
export async function encodePng(rgb: Uint8Array, width: number, height: number, parameters?: string): Promise<Buffer> {
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return parameters === undefined ? png : addPngText(png, 'parameters', parameters);
}

/**
 * NCHW float image in [-1, 1] (what SD VAE decoders output), one item of a batch, to
 * interleaved RGB bytes: (x / 2 + 0.5) clamped to [0, 1], as diffusers' postprocess.
 */
export function chwToRgb(data: Float32Array, width: number, height: number, offset = 0): Uint8Array {
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) planeToRgb(data, offset + c * plane, plane, out, c);
  return out;
}

/**
 * chwToRgb of a float16 image (the half bits an fp16 VAE decoder returns), read through the
 * decode table: the same bytes as decoding to float32 first, without the image-sized float32
 * copy on the device's critical path.
 */
export function halfChwToRgb(bits: Uint16Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  const table = halfDecodeTable();
  for (let c = 0; c < 3; c++) {
    for (let i = 0, at = c * plane, o = c; i < plane; i++, o += 3) out[o] = toByte(table[bits[at + i]]);
  }
  return out;
}

function planeToRgb(data: Float32Array, base: number, plane: number, out: Uint8Array, channel: number): void {
  for (let i = 0, o = channel; i < plane; i++, o += 3) out[o] = toByte(data[base + i]);
}

/** round((x / 2 + 0.5) * 255) clamped to a byte, as truncation of a shifted value: no Math.round call per byte. */
function toByte(x: number): number {
  const v = x * 127.5 + 128;
  return v <= 0 ? 0 : v >= 255 ? 255 : v | 0;
}

/** Interleaved RGB bytes -> NCHW float in [-1, 1] (diffusers' preprocess: 2x - 1). */
export function rgbToChw(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (rgb[i * 3 + c] / 255) * 2 - 1;
  }
  return out;
}

/**
 * Any image sharp reads -> RGB bytes at exactly width x height. A different aspect ratio
 * is centre-cropped (cover), never stretched; lanczos3 as A1111's resize.
 */
export async function loadRgb(image: Buffer, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await sharp(image)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(width, height, { fit: 'cover', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after decoding, got ${info.channels}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

export async function imageSize(image: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(image).metadata();
  if (!meta.width || !meta.height) throw new Error('cannot read the image size');
  return { width: meta.width, height: meta.height };
}

/** Columns x rows: one row up to 3 images (1x2, 1x3), then square-ish (2x2 for 4). */
export function gridLayout(count: number): { cols: number; rows: number } {
  if (count < 1) throw new Error('a grid needs at least one image');
  const cols = count <= 3 ? count : Math.ceil(Math.sqrt(count));
  return { cols, rows: Math.ceil(count / cols) };
}

/** Tiles same-sized RGB images left to right, top to bottom into one PNG (black where a row is short). */
export async function makeGridRgb(images: Uint8Array[], width: number, height: number, parameters?: string): Promise<Buffer> {
  const { cols, rows } = gridLayout(images.length);
  const gridW = width * cols;
  const canvas = new Uint8Array(gridW * height * rows * 3);
  const rowBytes = width * 3;
  images.forEach((rgb, i) => {
    if (rgb.length !== width * height * 3) throw new Error(`grid image ${i} is not ${width}x${height} RGB`);
    const left = (i % cols) * width;
    const top = Math.floor(i / cols) * height;
    for (let y = 0; y < height; y++) canvas.set(rgb.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * gridW + left) * 3);
  });
  return encodePng(canvas, gridW, height * rows, parameters);
}

/** Tiles same-sized PNGs left to right, top to bottom into one PNG. */
export async function makeGrid(pngs: Buffer[], parameters?: string): Promise<Buffer> {
  const { width, height } = await imageSize(pngs[0]);
  const images = await Promise.all(pngs.map((png) => loadRgb(png, width, height)));
  return makeGridRgb(images, width, height, parameters);
}
