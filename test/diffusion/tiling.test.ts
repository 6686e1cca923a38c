/** Tiling: tile starts cover the axis, and a model run over blended tiles gives the untiled result. */
import { describe, expect, it } from 'vitest';
import { runTiled, tileStarts } from '../../worker/diffusion/tiling.ts';

describe('tiling', () => {
  it('tile starts cover the axis with the last tile flush with the end', () => {
    expect(tileStarts(64, 64, 16)).toEqual([0]);
    expect(tileStarts(100, 64, 16)).toEqual([0, 36]);
    expect(tileStarts(128, 64, 16)).toEqual([0, 48, 64]);
    expect(tileStarts(10, 4, 2)).toEqual([0, 2, 4, 6]);
  });

  it('a pointwise model run over blended tiles gives the untiled result', async () => {
    const [C, H, W] = [2, 10, 14];
    const input = Float32Array.from({ length: C * H * W }, (_, i) => Math.sin(i));
    const pointwise = async (t: Float32Array) => t.map((v) => v * 3 + 1);
    const whole = await pointwise(input);
    const tiled = await runTiled(input, C, H, W, { tile: 4, overlap: 2 }, { inPerUnit: 1, outPerUnit: 1, outChannels: C }, pointwise);
    for (let i = 0; i < whole.length; i++) expect(tiled[i]).toBeCloseTo(whole[i], 5);
  });

  it('a 2x nearest-neighbour upsampler over tiles equals the whole-image run', async () => {
    const [C, H, W] = [1, 6, 8];
    const input = Float32Array.from({ length: C * H * W }, (_, i) => i);
    const up = async (t: Float32Array, h: number, w: number) => {
      const out = new Float32Array(4 * h * w);
      for (let y = 0; y < 2 * h; y++) for (let x = 0; x < 2 * w; x++) out[y * 2 * w + x] = t[Math.floor(y / 2) * w + Math.floor(x / 2)];
      return out;
    };
    const whole = await up(input, H, W);
    const tiled = await runTiled(input, C, H, W, { tile: 4, overlap: 2 }, { inPerUnit: 1, outPerUnit: 2, outChannels: 1 }, up);
    for (let i = 0; i < whole.length; i++) expect(tiled[i]).toBeCloseTo(whole[i], 4);
  });
});
