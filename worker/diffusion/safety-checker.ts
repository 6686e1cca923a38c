/**
 * The model folder's optional `safety_checker/model.onnx` (Stable Diffusion's CLIP-based NSFW
 * classifier), run on every decoded image as diffusers' ONNX pipeline runs it: one image per
 * run, `clip_input` prepared by the folder's `feature_extractor/preprocessor_config.json`
 * (resize the short side, centre crop, scale to [0, 1], normalise), `images` as NHWC floats in
 * [0, 1]. Only the verdict `has_nsfw_concepts` is used: the picture itself is kept and the
 * platform decides how to show it (a spoiler, or withheld), rather than a black square.
 */
import sharp from 'sharp';
import type { OnnxModel } from './sessions.ts';
import type { SafetyCheckerIO } from './model-contract.ts';

export interface ClipPreprocessing {
  /** the short side after resizing */
  shortEdge: number;
  crop: { width: number; height: number };
  mean: [number, number, number];
  std: [number, number, number];
  rescale: number;
}

/** CLIP ViT-L/14's: what SD 1.x and 2.x exports ship in feature_extractor/. */
export const CLIP_PREPROCESSING: ClipPreprocessing = {
  shortEdge: 224,
  crop: { width: 224, height: 224 },
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
  rescale: 1 / 255,
};

type Json = Record<string, unknown>;

function side(value: unknown, keys: string[]): number | undefined {
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object') for (const k of keys) if (typeof (value as Json)[k] === 'number') return (value as Json)[k] as number;
  return undefined;
}

function triple(value: unknown): [number, number, number] | undefined {
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number') ? (value as [number, number, number]) : undefined;
}

/**
 * preprocessor_config.json (parsed) in either of transformers' spellings (`size: 224` or
 * `{shortest_edge: 224}`); CLIP's own settings when the folder has none. `label` names the file.
 */
export function readClipPreprocessing(json: Json | undefined, label: string): ClipPreprocessing {
  if (!json) return CLIP_PREPROCESSING;
  const d = CLIP_PREPROCESSING;
  const shortEdge = side(json.size, ['shortest_edge', 'height']) ?? d.shortEdge;
  const cropH = side(json.crop_size, ['height']) ?? shortEdge;
  const cropW = side(json.crop_size, ['width']) ?? cropH;
  if (cropH > shortEdge || cropW > shortEdge) throw new Error(`${label}: crop_size ${cropW}x${cropH} is larger than the resized short side ${shortEdge}`);
  return {
    shortEdge,
    crop: { width: cropW, height: cropH },
    mean: json.do_normalize === false ? [0, 0, 0] : (triple(json.image_mean) ?? d.mean),
    std: json.do_normalize === false ? [1, 1, 1] : (triple(json.image_std) ?? d.std),
    rescale: typeof json.rescale_factor === 'number' ? json.rescale_factor : d.rescale,
  };
}

/** Interleaved RGB bytes -> the checker's `clip_input`, [3, crop.height, crop.width]. */
export async function clipInput(rgb: Uint8Array, width: number, height: number, p: ClipPreprocessing): Promise<Float32Array> {
  // transformers: the short side becomes shortEdge, the long one int(shortEdge * long / short)
  const scale = p.shortEdge / Math.min(width, height);
  const w = width <= height ? p.shortEdge : Math.floor(width * scale);
  const h = width <= height ? Math.floor(height * scale) : p.shortEdge;
  const { width: cw, height: ch } = p.crop;
  const resized = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } }).resize(w, h, {
    kernel: 'cubic',
    fit: 'fill',
  });
  const raw = await resized.extract({ left: Math.floor((w - cw) / 2), top: Math.floor((h - ch) / 2), width: cw, height: ch }).raw().toBuffer();
  const plane = cw * ch;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (raw[i * 3 + c] * p.rescale - p.mean[c]) / p.std[c];
  }
  return out;
}

export class SafetyChecker {
  constructor(
    private readonly model: OnnxModel,
    private readonly io: SafetyCheckerIO,
    readonly preprocessing: ClipPreprocessing = CLIP_PREPROCESSING,
  ) {}

  /** One verdict per image (interleaved RGB bytes, all width x height): true = flagged. */
  async check(rgbs: readonly Uint8Array[], width: number, height: number): Promise<boolean[]> {
    const { crop } = this.preprocessing;
    const verdicts: boolean[] = [];
    // One image per run, as diffusers runs it: exported checkers fail on batches larger than one.
    for (const rgb of rgbs) {
      const clip = await clipInput(rgb, width, height, this.preprocessing);
      const images = new Float32Array(rgb.length);
      for (let i = 0; i < rgb.length; i++) images[i] = rgb[i] / 255;
      const out = await this.model.run({
        [this.io.clipInput.name]: this.model.floatTensor(this.io.clipInput.name, clip, [1, 3, crop.height, crop.width]),
        [this.io.images.name]: this.model.floatTensor(this.io.images.name, images, [1, height, width, 3]),
      });
      const flags = out[this.io.verdict.name].data as ArrayLike<number | boolean>;
      if (flags.length !== 1) throw new Error(`${this.model.label}: ${this.io.verdict.name} has ${flags.length} values for one image`);
      verdicts.push(Boolean(flags[0]));
    }
    return verdicts;
  }
}
