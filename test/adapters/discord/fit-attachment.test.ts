/** Fitting an image under Discord's attachment limit: a PNG that fits is kept, others re-encoded then downscaled, and a clear error when nothing fits. */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { describeFit, fitImage } from '../../../adapters/discord/fit-attachment.ts';

describe('fitting an image under the attachment limit', () => {
  /** A gradient with grain: large as PNG, small as WebP, like a photo. */
  const noise = async (side: number) => {
    const raw = Buffer.alloc(side * side * 3);
    let x = 1;
    for (let i = 0; i < raw.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      raw[i] = ((i / 3) % side) + ((x >> 16) & 15);
    }
    return sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
  };

  it('keeps a PNG that fits', async () => {
    const png = await noise(32);
    const fit = await fitImage(png, png.length);
    expect(fit.data).toBe(png);
    expect(fit.change).toBeNull();
    expect(describeFit(fit)).toBeNull();
  });

  it('re-encodes, then downscales, until it fits', async () => {
    const png = await noise(256);
    const reencoded = await fitImage(png, Math.floor(png.length / 2));
    expect(reencoded.data.length).toBeLessThanOrEqual(png.length / 2);
    expect(reencoded.change).toEqual({ format: 'webp', quality: 90, scaled: false, originalBytes: png.length });
    expect([reencoded.width, reencoded.height]).toEqual([256, 256]);

    const tiny = await fitImage(png, 1500);
    expect(tiny.data.length).toBeLessThanOrEqual(1500);
    expect(tiny.change?.scaled).toBe(true);
    const meta = await sharp(tiny.data).metadata();
    expect([meta.width, meta.height]).toEqual([tiny.width, tiny.height]);
    expect(tiny.width).toBeLessThan(256);
    expect(describeFit(tiny)).toMatch(/downscaled to \d+x\d+\.$/);
  });

  it('gives up with a clear error when nothing fits', async () => {
    await expect(fitImage(await noise(64), 10)).rejects.toThrow(/cannot be brought under 10 bytes/);
  });
});
