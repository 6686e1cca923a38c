/**
 * A configured image->image super-resolution model (e.g. a Real-ESRGAN export: RGB in
 * [0, 1], NCHW), run over tiles so memory stays bounded. Each tile is read with a margin
 * of context on every side and only its core is kept: the model sees what lies beyond
 * the tile border, so there are no seams and no blending is needed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OnnxModel } from './sessions.ts';
import { readFloats } from './sessions.ts';
import type { UpscalerIO } from './model-contract.ts';
import { cropChw } from './tiling.ts';

export interface UpscalerTiling {
  /** core tile side in input pixels */
  tile: number;
  /** context margin read around each tile, in input pixels */
  pad: number;
}

export const DEFAULT_UPSCALER_TILING: UpscalerTiling = { tile: 192, pad: 16 };

/** `dir/model.onnx`, or the .onnx file itself. */
export function upscalerFile(dirOrFile: string): string {
  const resolved = path.resolve(dirOrFile);
  if (resolved.endsWith('.onnx')) return resolved;
  const file = path.join(resolved, 'model.onnx');
  if (!fs.existsSync(file)) throw new Error(`upscaler ${resolved}: missing model.onnx (expected an image-to-image ONNX model such as a Real-ESRGAN export)`);
  return file;
}

export class ModelUpscaler {
  constructor(
    private readonly model: OnnxModel,
    private readonly io: UpscalerIO,
    private readonly tiling: UpscalerTiling = DEFAULT_UPSCALER_TILING,
  ) {}

  /** Interleaved RGB bytes in, interleaved RGB bytes out at the model's own scale. */
  async upscale(rgb: Uint8Array, width: number, height: number): Promise<{ rgb: Uint8Array; width: number; height: number; scale: number }> {
    const plane = width * height;
    const input = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) input[c * plane + i] = rgb[i * 3 + c] / 255;

    const { tile, pad } = this.tiling;
    let scale = 0;
    let out: Float32Array | undefined;
    for (let y0 = 0; y0 < height; y0 += tile) {
      for (let x0 = 0; x0 < width; x0 += tile) {
        const th = Math.min(tile, height - y0);
        const tw = Math.min(tile, width - x0);
        const py = Math.max(0, y0 - pad);
        const px = Math.max(0, x0 - pad);
        const ph = Math.min(height, y0 + th + pad) - py;
        const pw = Math.min(width, x0 + tw + pad) - px;
        const result = await this.run(cropChw(input, 3, height, width, { y: py, x: px, h: ph, w: pw }), ph, pw);
        const s = Math.round(Math.sqrt(result.length / (3 * ph * pw)));
        if (s < 1 || result.length !== 3 * ph * s * pw * s) throw new Error(`${this.model.label}: output of ${result.length} values is not an integer scale of its ${pw}x${ph} input`);
        if (!out) {
          scale = s;
          out = new Float32Array(3 * plane * s * s);
        } else if (s !== scale) {
          throw new Error(`${this.model.label}: scale changed between tiles (${scale} then ${s})`);
        }
        const outW = width * s;
        const outH = height * s;
        const rw = pw * s;
        const rh = ph * s;
        for (let c = 0; c < 3; c++) {
          for (let y = 0; y < th * s; y++) {
            const from = (c * rh + (y0 - py) * s + y) * rw + (x0 - px) * s;
            out.set(result.subarray(from, from + tw * s), (c * outH + y0 * s + y) * outW + x0 * s);
          }
        }
      }
    }
    const outW = width * scale;
    const outH = height * scale;
    const outPlane = outW * outH;
    const bytes = new Uint8Array(outPlane * 3);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < outPlane; i++) {
        const v = out![c * outPlane + i];
        bytes[i * 3 + c] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
      }
    }
    return { rgb: bytes, width: outW, height: outH, scale };
  }

  private async run(tile: Float32Array, h: number, w: number): Promise<Float32Array> {
    const name = this.io.image.name;
    const out = await this.model.run({ [name]: this.model.floatTensor(name, tile, [1, 3, h, w]) });
    return readFloats(out[this.io.output.name], this.model.label);
  }
}
