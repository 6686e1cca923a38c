/** The worker's batcher: which waiting requests share one pipeline call, and how many calls run at once. */
import { describe, expect, it } from 'vitest';
import { Batcher, type BatchEntry } from '../../worker/batcher.ts';
import { JobCancelledError } from '../../worker/errors.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

type Req = { id: string };
function recordingRunner(delayMs = 20) {
  const calls: string[][] = [];
  const run = async (entries: BatchEntry<Req>[]) => {
    calls.push(entries.map((e) => e.request.id));
    await tick(delayMs);
    return entries.map((e) => ({ status: 'fulfilled' as const, value: `done:${e.request.id}` }));
  };
  return { calls, run };
}

describe('Batcher', () => {
  it('with batching off runs one request per call, in order, one slot at a time', async () => {
    const { calls, run } = recordingRunner();
    const b = new Batcher<Req, string>({ slots: 1, maxBatch: 1, gatherMs: 0, run });
    const ac = new AbortController();
    const out = await Promise.all(['a', 'b', 'c'].map((id) => b.submit({ id }, 'k', 1, ac.signal)));
    expect(out).toEqual(['done:a', 'done:b', 'done:c']);
    expect(calls).toEqual([['a'], ['b'], ['c']]);
  });

  it('groups waiting compatible requests up to the image limit, oldest first, and leaves others for later', async () => {
    const { calls, run } = recordingRunner();
    const b = new Batcher<Req, string>({ slots: 1, maxBatch: 4, gatherMs: 0, run });
    const s = new AbortController().signal;
    const all = [
      b.submit({ id: 'first' }, 'A', 1, s), // runs alone: nothing waits yet and no gather window
      b.submit({ id: 'a1' }, 'A', 1, s),
      b.submit({ id: 'b1' }, 'B', 1, s),
      b.submit({ id: 'a2' }, 'A', 2, s),
      b.submit({ id: 'a3' }, 'A', 2, s), // would make 5 images with a1+a2: waits
      b.submit({ id: 'solo' }, null, 1, s),
      b.submit({ id: 'b2' }, 'B', 1, s),
    ];
    await Promise.all(all);
    expect(calls).toEqual([['first'], ['a1', 'a2'], ['b1', 'b2'], ['a3'], ['solo']]);
  });

  it('the gather window lets requests arriving together share one call', async () => {
    const { calls, run } = recordingRunner(5);
    const sizes: number[] = [];
    const b = new Batcher<Req, string>({ slots: 1, maxBatch: 4, gatherMs: 30, run, onBatch: (n) => sizes.push(n) });
    const s = new AbortController().signal;
    const p = [b.submit({ id: '1' }, 'A', 1, s)];
    await tick(5);
    p.push(b.submit({ id: '2' }, 'A', 1, s), b.submit({ id: '3' }, 'A', 1, s));
    await Promise.all(p);
    expect(calls).toEqual([['1', '2', '3']]);
    expect(sizes).toEqual([3]);
  });

  it('runs up to `slots` calls at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const b = new Batcher<Req, string>({
      slots: 2,
      maxBatch: 1,
      gatherMs: 0,
      run: async (entries) => {
        peak = Math.max(peak, ++inFlight);
        await tick(20);
        inFlight--;
        return entries.map(() => ({ status: 'fulfilled' as const, value: 'ok' }));
      },
    });
    const s = new AbortController().signal;
    await Promise.all([1, 2, 3, 4, 5].map((i) => b.submit({ id: String(i) }, null, 1, s)));
    expect(peak).toBe(2);
  });

  it('a request cancelled while waiting leaves the queue with its abort reason; per-request failures stay separate', async () => {
    const b = new Batcher<Req, string>({
      slots: 1,
      maxBatch: 4,
      gatherMs: 0,
      run: async (entries) => {
        await tick(20);
        return entries.map((e) => (e.request.id === 'bad' ? { status: 'rejected' as const, reason: new Error('bad one') } : { status: 'fulfilled' as const, value: e.request.id }));
      },
    });
    const s = new AbortController().signal;
    const cancel = new AbortController();
    const first = b.submit({ id: 'x' }, 'A', 1, s);
    const cancelled = b.submit({ id: 'c' }, 'A', 1, cancel.signal);
    const bad = b.submit({ id: 'bad' }, 'A', 1, s);
    const good = b.submit({ id: 'good' }, 'A', 1, s);
    cancel.abort(new JobCancelledError());
    await expect(cancelled).rejects.toBeInstanceOf(JobCancelledError);
    expect(b.waiting).toBe(2);
    await expect(first).resolves.toBe('x');
    await expect(bad).rejects.toThrow('bad one');
    await expect(good).resolves.toBe('good');
  });
});
