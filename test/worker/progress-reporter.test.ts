/** The progress throttle: the queue hears every step, the chat at most once per interval, with an ETA from step time. */
import { describe, expect, it } from 'vitest';
import { ProgressReporter } from '../../worker/progress-reporter.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('ProgressReporter', () => {
  it('updates the queue every step, the chat at most once per interval and never on the last step, with ETA from step time', async () => {
    let now = 1000;
    const queue: unknown[] = [];
    const chat: unknown[] = [];
    const r = new ProgressReporter({
      intervalMs: 1500,
      preview: true,
      now: () => now,
      updateJobProgress: async (p) => void queue.push(p),
      deliver: async (u) => void chat.push(u),
    });
    // 10 steps: the first takes 900 ms (text encoding, warm-up), the rest 400 ms each.
    const preview = Buffer.from('png');
    let previewsMade = 0;
    const makePreview = async () => {
      previewsMade++;
      return preview;
    };
    now += 900;
    r.step({ step: 1, total: 10, preview: makePreview });
    for (let s = 2; s <= 10; s++) {
      now += 400;
      r.step({ step: s, total: 10, preview: makePreview });
      await tick();
    }
    await r.flush();
    expect(queue).toHaveLength(10);
    expect(queue[0]).toEqual({ step: 1, total: 10, etaMs: 8100 }); // one step known: 900 ms x 9 left
    expect(queue[1]).toEqual({ step: 2, total: 10, etaMs: 3200 }); // 400 ms x 8 left
    expect(queue[9]).toEqual({ step: 10, total: 10, etaMs: 0 });
    // Elapsed at steps: 900, 1300, 1700(>=1500: send), 2100, 2500, 2900, 3300(>=1700+1500: send), 3700, 4100, 4500(last: never)
    expect(chat).toEqual([
      { step: 3, total: 10, etaMs: 2800, preview },
      { step: 7, total: 10, etaMs: 1200, preview },
    ]);
    // Previews are rendered only for the steps that went to the chat.
    expect(previewsMade).toBe(2);
  });

  it('a fast job sends no chat update; previews are left out when disabled; a slow deliverer is never queued behind', async () => {
    let now = 0;
    const chat: Array<{ step: number; preview?: Buffer }> = [];
    let release!: () => void;
    const r = new ProgressReporter({
      intervalMs: 100,
      preview: false,
      now: () => now,
      updateJobProgress: async () => {},
      deliver: (u) => {
        chat.push(u);
        return new Promise<void>((res) => (release = res));
      },
    });
    r.step({ step: 1, total: 50, preview: async () => Buffer.from('p') });
    expect(chat).toHaveLength(0);
    now = 150;
    r.step({ step: 2, total: 50, preview: async () => Buffer.from('p') });
    now = 400;
    r.step({ step: 3, total: 50 }); // previous edit still in flight: skipped, not queued
    expect(chat).toEqual([{ step: 2, total: 50, etaMs: 150 * 48 }]);
    release();
    await r.flush();
    expect(chat).toHaveLength(1);
  });
});
