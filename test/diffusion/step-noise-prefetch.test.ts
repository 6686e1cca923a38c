/**
 * Step noise drawn ahead on a thread is the noise the main thread would have drawn: the same
 * seeded generator, the same order, for several images at once (a batch), however far the
 * thread runs ahead.
 */
import { describe, expect, it } from 'vitest';
import { stepGenerator } from '../../worker/diffusion/noise.ts';
import { PrefetchedNoise, startStepNoiseThread } from '../../worker/diffusion/step-noise-prefetch.ts';
import { waitFor } from '../../kit/worker-fixtures.ts';

describe('prefetched step noise', () => {
  it('gives each image the values of its own seeded step generator, step after step', async () => {
    startStepNoiseThread();
    const count = 4 * 16 * 16;
    const seeds = [7, 8, 1234];
    const streams = await waitFor('the noise thread', () => {
      const opened = seeds.map((s) => PrefetchedNoise.open(s, count));
      if (opened.every((o) => o !== null)) return opened as PrefetchedNoise[];
      for (const o of opened) o?.stop();
      return null;
    });
    const local = seeds.map((s) => stepGenerator(s));
    for (let step = 0; step < 6; step++) {
      streams.forEach((stream, i) => {
        const drawn = stream.next();
        expect(Array.from(drawn)).toEqual(Array.from(local[i].normal(count)));
        stream.release();
      });
    }
    for (const s of streams) s.stop();
  }, 60_000);
});
