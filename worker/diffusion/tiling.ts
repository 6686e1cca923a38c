/**
 * Runs an image model over overlapping tiles and cross-fades the outputs with linear
 * ramps, so memory stays bounded on large images and convolution seams at tile borders
 * are hidden. Works for any fixed scale between input and output grids (the VAE decoder
 * makes 8 pixels of each latent pixel; the encoder 1 latent pixel of 8 pixels).
 */

export interface Tiling {
  /** tile side, in grid units */
  tile: number;
  /** overlap between neighbouring tiles, in grid units */
  overlap: number;
}

/** SD's VAE tiles, in latent pixels: SD VAEs are trained at 512 px = 64 latent px; a quarter overlaps. */
export const DEFAULT_VAE_TILING: Tiling = { tile: 64, overlap: 16 };

/** Whether a grid of `height` x `width` units is one tile (runTiled then passes it straight through). */
export function fitsOneTile(height: number, width: number, tiling: Tiling): boolean {
  return height <= tiling.tile && width <= tiling.tile;
}

/** Tile start offsets along an axis of `size`, each tile `tile` long, the last flush with the end. */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const stride = Math.max(1, tile - overlap);
  const starts: number[] = [];
  for (let s = 0; ; s += stride) {
    if (s + tile >= size) {
      starts.push(size - tile);
      return starts;
    }
    starts.push(s);
  }
}

/** Blend weight along one axis of a tile: ramps up/down over `ramp` where it shares an edge with a neighbour. */
function edgeWeights(len: number, ramp: number, rampStart: boolean, rampEnd: boolean): Float32Array {
  const w = new Float32Array(len);
  for (let x = 0; x < len; x++) {
    let v = 1;
    if (rampStart) v = Math.min(v, (x + 0.5) / ramp);
    if (rampEnd) v = Math.min(v, (len - x - 0.5) / ramp);
    w[x] = v;
  }
  return w;
}

export interface Region {
  y: number;
  x: number;
  h: number;
  w: number;
}

/** Copies a [channels, r.h, r.w] window out of a [channels, height, width] array. */
export function cropChw(src: Float32Array, channels: number, height: number, width: number, r: Region): Float32Array {
  const out = new Float32Array(channels * r.h * r.w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < r.h; y++) {
      const from = c * height * width + (r.y + y) * width + r.x;
      out.set(src.subarray(from, from + r.w), (c * r.h + y) * r.w);
    }
  }
  return out;
}

export interface GridMap {
  /** input pixels per grid unit */
  inPerUnit: number;
  /** output pixels per grid unit */
  outPerUnit: number;
  outChannels: number;
}

/**
 * `input` is [channels, height, width]; `fn` maps a [channels, h, w] tile to
 * [outChannels, h / inPerUnit * outPerUnit, ...]. Returns the blended full output.
 * A single tile covering everything is passed straight through, unchanged.
 */
export async function runTiled(
  input: Float32Array,
  channels: number,
  height: number,
  width: number,
  tiling: Tiling,
  map: GridMap,
  fn: (tile: Float32Array, h: number, w: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const { inPerUnit, outPerUnit, outChannels } = map;
  const gridH = height / inPerUnit;
  const gridW = width / inPerUnit;
  const th = Math.min(tiling.tile, gridH);
  const tw = Math.min(tiling.tile, gridW);
  if (fitsOneTile(gridH, gridW, tiling)) return fn(input, height, width);
  const ys = tileStarts(gridH, th, tiling.overlap);
  const xs = tileStarts(gridW, tw, tiling.overlap);

  const outH = gridH * outPerUnit;
  const outW = gridW * outPerUnit;
  const plane = outH * outW;
  const out = new Float32Array(outChannels * plane);
  const weightSum = new Float32Array(plane);
  const rh = th * outPerUnit;
  const rw = tw * outPerUnit;
  const ramp = tiling.overlap * outPerUnit;
  for (let yi = 0; yi < ys.length; yi++) {
    for (let xi = 0; xi < xs.length; xi++) {
      const region = { y: ys[yi] * inPerUnit, x: xs[xi] * inPerUnit, h: th * inPerUnit, w: tw * inPerUnit };
      const result = await fn(cropChw(input, channels, height, width, region), region.h, region.w);
      if (result.length !== outChannels * rh * rw) {
        throw new Error(`tile output has ${result.length} values, expected ${outChannels}x${rh}x${rw}`);
      }
      const wy = edgeWeights(rh, ramp, yi > 0, yi < ys.length - 1);
      const wx = edgeWeights(rw, ramp, xi > 0, xi < xs.length - 1);
      const oy = ys[yi] * outPerUnit;
      const ox = xs[xi] * outPerUnit;
      for (let y = 0; y < rh; y++) {
        for (let x = 0; x < rw; x++) {
          const weight = wy[y] * wx[x];
          const o = (oy + y) * outW + ox + x;
          weightSum[o] += weight;
          for (let c = 0; c < outChannels; c++) out[c * plane + o] += result[(c * rh + y) * rw + x] * weight;
        }
      }
    }
  }
  for (let c = 0; c < outChannels; c++) {
    for (let i = 0; i < plane; i++) out[c * plane + i] /= weightSum[i];
  }
  return out;
}
