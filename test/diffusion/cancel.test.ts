/**
 * Progress reporting and cancellation: a step-by-step callback with a lazy latent
 * preview, and an AbortSignal that stops a generation within one step while the other
 * requests of the same batch carry on.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipeline, type GenerateRequest, type Pipeline, type ProgressInfo } from '../../worker/diffusion/index.ts';
import { makeTempDir, writeTinyModel } from '../../kit/tiny-sd-models.ts';

let root: string;
let pipeline: Pipeline;

const req = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt: 'a photo of a cat',
  seed: 5,
  steps: 10,
  guidance: 6,
  width: 64,
  height: 64,
  n: 2,
  sampler: 'euler_a',
  ...over,
});

beforeAll(async () => {
  root = makeTempDir('sd-cancel');
  pipeline = await loadPipeline(writeTinyModel(root, { name: 'base' }));
});
afterAll(async () => {
  await pipeline.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('progress', () => {
  it('reports every step with totals, timings and a latent preview at latent resolution', async () => {
    const seen: ProgressInfo[] = [];
    const madeInCallback: Promise<Buffer>[] = [];
    await pipeline.generate(req(), {
      onProgress: (p) => {
        seen.push(p);
        madeInCallback.push(p.preview());
      },
    });
    expect(seen.map((p) => [p.step, p.total])).toEqual(Array.from({ length: 10 }, (_, i) => [i + 1, 10]));
    for (let i = 1; i < seen.length; i++) expect(seen[i].elapsedMs).toBeGreaterThanOrEqual(seen[i - 1].elapsedMs);
    expect(seen.every((p) => p.stepMs >= 0 && p.stepMs <= p.elapsedMs)).toBe(true);
    const first = await madeInCallback[0];
    const last = await madeInCallback[9];
    const meta = await sharp(first).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 8, 8]);
    // a preview made during its step's callback shows that step's latent
    expect(first.equals(last)).toBe(false);
    expect((await madeInCallback[8]).equals(last)).toBe(false);
    // one made later shows the latent as it is then (the loop steps latents in place): the last
    expect((await seen[0].preview()).equals(last)).toBe(true);
  });

  it('counts steps over every batch a request is split into', async () => {
    const p = await loadPipeline(writeTinyModel(root, { name: 'split' }), { maxBatch: 2 });
    const steps: string[] = [];
    await p.generate(req({ n: 3, steps: 3 }), { onProgress: (s) => steps.push(`${s.step}/${s.total}`) });
    expect(steps).toEqual(['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
    await p.dispose();
  });

  it('a throwing progress callback does not fail the generation', async () => {
    const result = await pipeline.generate(req({ n: 1 }), {
      onProgress: () => {
        throw new Error('chat edit failed');
      },
    });
    expect(result.images).toHaveLength(1);
  });
});

describe('cancellation', () => {
  it('an abort during step 3 stops before step 4 with an AbortError', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const run = pipeline.generate(req(), {
      signal: controller.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.step === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual([1, 2, 3]);
  });

  it('an abort that lands while a step is running finishes at most that step', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    let abortedAfter = -1;
    const run = pipeline.generate(req({ steps: 20 }), {
      signal: controller.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.step === 5) {
          // fires while the next UNet run is queued or in flight
          setImmediate(() => {
            abortedAfter = steps.length;
            controller.abort();
          });
        }
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(abortedAfter).toBeGreaterThanOrEqual(5);
    expect(steps.length - abortedAfter).toBeLessThanOrEqual(1);
    expect(steps.length).toBeLessThan(20);
  });

  it('an already aborted signal fails without running a step', async () => {
    const steps: number[] = [];
    await expect(pipeline.generate(req(), { signal: AbortSignal.abort(), onProgress: (p) => steps.push(p.step) })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(steps).toEqual([]);
  });

  it('in a shared batch the aborted request drops out and the others finish with their own bytes', async () => {
    const controller = new AbortController();
    const reqs = [req({ seed: 1, prompt: 'cat' }), req({ seed: 2, prompt: 'dog', n: 1 }), req({ seed: 3, prompt: 'photo', n: 1, guidance: 3 })];
    const steps: number[][] = [[], [], []];
    const settled = await pipeline.generateEach(reqs, [
      { onProgress: (p) => steps[0].push(p.step) },
      {
        signal: controller.signal,
        onProgress: (p) => {
          steps[1].push(p.step);
          if (p.step === 2) controller.abort();
        },
      },
      { onProgress: (p) => steps[2].push(p.step) },
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.name).toBe('AbortError');
    expect(steps[1]).toEqual([1, 2]);
    expect(steps[0]).toHaveLength(10);
    expect(steps[2]).toHaveLength(10);
    for (const i of [0, 2]) {
      const alone = await pipeline.generate(reqs[i]);
      const got = (settled[i] as PromiseFulfilledResult<Awaited<ReturnType<Pipeline['generate']>>>).value;
      expect(got.images.map((im) => im.png.equals(alone.images[im.seed - reqs[i].seed].png))).toEqual(got.images.map(() => true));
    }
  });

  it('generateMany rejects with the AbortError but only after the others are done; the pipeline stays usable', async () => {
    const controller = new AbortController();
    const done: number[] = [];
    const run = pipeline.generateMany(
      [req({ seed: 1 }), req({ seed: 2 })],
      [
        { signal: controller.signal, onProgress: (p) => p.step === 1 && controller.abort() },
        { onProgress: (p) => done.push(p.step) },
      ],
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(done).toHaveLength(10);
    const after = await pipeline.generate(req({ n: 1, steps: 2 }));
    expect(after.images).toHaveLength(1);
  });
});
