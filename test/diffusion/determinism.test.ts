/**
 * Seeds fully determine the bytes: the same request gives the same PNGs, image i of a
 * batch equals a lone n = 1 run at seed + i, and dynamic batching across requests
 * (generateMany) gives each request exactly what it would have got alone.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline, type GenerateRequest, type Pipeline } from '../../worker/diffusion/index.ts';
import { makeTempDir, writeTinyModel } from '../../kit/tiny-sd-models.ts';

let root: string;
let base: string;
let lcm: string;
let pipeline: Pipeline;

const req = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt: 'a photo of a cat',
  negativePrompt: 'dog',
  seed: 100,
  steps: 6,
  guidance: 7,
  width: 64,
  height: 64,
  n: 1,
  sampler: 'euler_a',
  ...over,
});

// PNGs compared as short digests: a failure message stays readable
const pngs = (r: { images: { png: Buffer }[] }) => r.images.map((i) => createHash('sha256').update(i.png).digest('hex'));
const pixels = (png: Buffer) => sharp(png).raw().toBuffer();

beforeAll(async () => {
  root = makeTempDir('sd-determinism');
  base = writeTinyModel(root, { name: 'base' });
  lcm = writeTinyModel(root, { name: 'lcm', lcm: true });
  pipeline = await loadPipeline(base, { maxBatch: 3 });
});
afterAll(async () => {
  await pipeline.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('determinism', () => {
  it('same seed and parameters give identical PNG bytes; a different seed different bytes', async () => {
    const a = await pipeline.generate(req({ n: 2 }));
    const b = await pipeline.generate(req({ n: 2 }));
    expect(pngs(a)).toEqual(pngs(b));
    expect(a.grid!.equals(b.grid!)).toBe(true);
    const c = await pipeline.generate(req({ n: 2, seed: 101 }));
    expect(pngs(c)[0]).not.toBe(pngs(a)[0]);
    // seed 101 is image 1 of the seed-100 request
    expect(pngs(c)[0]).toBe(pngs(a)[1]);
  });

  it.each(['euler_a', 'ddim', 'pndm', 'euler', 'dpmpp_2m', 'dpmpp_2m_karras', 'lcm'] as const)(
    'image i of an n = 5 request (split over batches of 3) equals n = 1 at seed + i (%s)',
    async (sampler) => {
      const batch = await pipeline.generate(req({ n: 5, sampler }));
      expect(batch.images.map((i) => i.seed)).toEqual([100, 101, 102, 103, 104]);
      expect(batch.timings.batchSize).toBe(3);
      for (let i = 0; i < 5; i++) {
        const alone = await pipeline.generate(req({ n: 1, seed: 100 + i, sampler }));
        expect(alone.images[0].png.equals(batch.images[i].png), `image ${i}`).toBe(true);
      }
    },
  );

  it('guidance <= 1 skips the uncond half (the negative prompt has no effect)', async () => {
    // the PNGs differ in their parameters text only: compare pixels
    const a = await pipeline.generate(req({ guidance: 1, negativePrompt: 'dog' }));
    const b = await pipeline.generate(req({ guidance: 1, negativePrompt: 'something else entirely' }));
    expect((await pixels(a.images[0].png)).equals(await pixels(b.images[0].png))).toBe(true);
    const c = await pipeline.generate(req({ guidance: 3, negativePrompt: 'something else entirely' }));
    const d = await pipeline.generate(req({ guidance: 3, negativePrompt: 'dog' }));
    expect((await pixels(c.images[0].png)).equals(await pixels(d.images[0].png))).toBe(false);
  });

  it('noiseBlend: amount 0 is the plain seed, a small amount changes the image, the same blend repeats', async () => {
    const plain = await pipeline.generate(req());
    const zero = await pipeline.generate(req({ noiseBlend: { seed: 9, amount: 0 } }));
    expect(zero.images[0].png.length).toBeGreaterThan(0);
    const blended = await pipeline.generate(req({ noiseBlend: { seed: 9, amount: 0.1 } }));
    const again = await pipeline.generate(req({ noiseBlend: { seed: 9, amount: 0.1 } }));
    expect(blended.images[0].png.equals(again.images[0].png)).toBe(true);
    expect(blended.images[0].png.equals(plain.images[0].png)).toBe(false);
    // the pixels of amount 0 are those of the plain seed (only the parameters text differs)
    expect((await pixels(zero.images[0].png)).equals(await pixels(plain.images[0].png))).toBe(true);
  });

  it('an LCM UNet (no CFG, guidance embedding) is deterministic and batch-independent too', async () => {
    const p = await loadPipeline(lcm, { maxBatch: 2 });
    const batch = await p.generate(req({ n: 3, sampler: 'lcm', steps: 4, guidance: 8 }));
    for (let i = 0; i < 3; i++) {
      const alone = await p.generate(req({ seed: 100 + i, sampler: 'lcm', steps: 4, guidance: 8 }));
      expect(alone.images[0].png.equals(batch.images[i].png)).toBe(true);
    }
    // guidance reaches the UNet through timestep_cond
    const other = await p.generate(req({ sampler: 'lcm', steps: 4, guidance: 2 }));
    expect(other.images[0].png.equals(batch.images[0].png)).toBe(false);
    await p.dispose();
  });
});

describe('generateMany (dynamic batching)', () => {
  it('gives each request the bytes it gets alone, in one UNet batch', async () => {
    const reqs = [
      req({ prompt: 'a photo of a cat', seed: 1, n: 2, guidance: 7 }),
      req({ prompt: 'a photo of a dog', negativePrompt: 'cat', seed: 50, n: 1, guidance: 4 }),
    ];
    const progress: number[][] = [[], []];
    const many = await pipeline.generateMany(reqs, [{ onProgress: (p) => progress[0].push(p.step) }, { onProgress: (p) => progress[1].push(p.step) }]);
    expect(many[0].timings.batchSize).toBe(3);
    expect(progress).toEqual([
      [1, 2, 3, 4, 5, 6],
      [1, 2, 3, 4, 5, 6],
    ]);
    const alone = [await pipeline.generate(reqs[0]), await pipeline.generate(reqs[1])];
    expect(pngs(many[0])).toEqual(pngs(alone[0]));
    expect(pngs(many[1])).toEqual(pngs(alone[1]));
    expect(many[0].grid!.equals(alone[0].grid!)).toBe(true);
  });

  it('refuses incompatible requests before any work, naming the difference', async () => {
    const ran: number[] = [];
    await expect(pipeline.generateMany([req(), req({ steps: 7 })], [{ onProgress: () => ran.push(1) }, {}])).rejects.toThrow(
      /cannot share one batch: request 0 has .*steps 6.*request 1 has .*steps 7/,
    );
    await expect(pipeline.generateMany([req(), req({ guidance: 1 })], [{}, {}])).rejects.toThrow(/cfg on.*cfg off/);
    await expect(pipeline.generateMany([req(), req({ width: 32 })], [{}, {}])).rejects.toThrow(/size 64x64.*size 32x64/);
    expect(ran).toEqual([]);
  });
});

describe('decodeEach (the worker\'s two-stage entry)', () => {
  it('hands each outcome over once the device is done, before its grid is encoded, and the files are the bytes generate() gives', async () => {
    const asked = [req({ n: 2, seed: 31 }), req({ n: 1, seed: 40, prompt: 'a photo of a dog' })];
    const [first, second] = await pipeline.decodeEach(asked, [{}, {}]);
    if (first.status !== 'fulfilled' || second.status !== 'fulfilled') throw new Error('a request failed');
    // Still encoding: the grid is made from the pixels only after the device's part returned.
    expect(await Promise.race([first.value.result.then(() => 'encoded'), new Promise((r) => setImmediate(() => r('pending')))])).toBe('pending');
    const staged = await Promise.all([first.value.result, second.value.result]);
    const whole = await pipeline.generateEach(asked, [{}, {}]);
    const direct = whole.map((w) => (w.status === 'fulfilled' ? w.value : null));
    expect(staged.map(pngs)).toEqual(direct.map((d) => pngs(d!)));
    expect(staged[0].grid!.equals(direct[0]!.grid!)).toBe(true);
    expect(staged[1].grid).toBeUndefined();
    expect(staged.map(pngs)).toEqual([pngs(await pipeline.generate(asked[0])), pngs(await pipeline.generate(asked[1]))]);
  });
});

describe('pipeline cache', () => {
  it('a second loadPipeline with the same folder and options returns the same instance', async () => {
    const again = await loadPipeline(base, { maxBatch: 3 });
    expect(again).toBe(pipeline);
    const other = await loadPipeline(base, { maxBatch: 2 });
    expect(other).not.toBe(pipeline);
    await other.dispose();
    // after dispose a new load creates a fresh pipeline
    const fresh = await loadPipeline(base, { maxBatch: 2 });
    expect(fresh).not.toBe(other);
    await fresh.dispose();
  });
});
