/** Unit tests of the worker's small parts: batcher, progress throttle, delivery ledger, recycle policy, failure notices. */
import { describe, expect, it } from 'vitest';
import { InvalidJobError } from '../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { Batcher, type BatchEntry } from '../../worker/batcher.ts';
import { DeliveryLedger } from '../../src/delivery-ledger.ts';
import { PermanentDeliveryError } from '../../src/delivery.ts';
import { DelivererRegistry, NoDelivererError } from '../../src/deliverer-registry.ts';
import { batchingEnabled } from '../../worker/main.ts';
import { RecordingDeliverer } from '../support/recording-deliverer.ts';
import { failureNotice, isPermanentJobError, JobCancelledError, JobTimeoutError, ModelLoadError, SourceUnavailableError } from '../../worker/errors.ts';
import { ProgressReporter } from '../../worker/progress-reporter.ts';
import { RecyclePolicy } from '../../worker/recycle-policy.ts';

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

describe('DeliveryLedger', () => {
  it('posts once: a second call (a re-run) finds the done record and does not post', async () => {
    const ledger = new DeliveryLedger(new MemoryKeyValueStore(), { ttlS: 60 });
    let posts = 0;
    const post = async () => ({ messageId: `m${++posts}`, resultId: 'r1' });
    const first = await ledger.once('job1', 'attempt-1', 'result', post);
    const again = await ledger.once('job1', 'attempt-2', 'result', post);
    expect(posts).toBe(1);
    expect(first.posted).toBe(true);
    expect(again.posted).toBe(false);
    expect(again.record).toMatchObject({ state: 'done', outcome: 'result', messageId: 'm1', resultId: 'r1' });
    // A failure notice after a delivered result is not posted either.
    expect((await ledger.once('job1', 'attempt-3', 'failure', post)).posted).toBe(false);
  });

  it('a failed post releases the claim so the next attempt posts', async () => {
    const ledger = new DeliveryLedger(new MemoryKeyValueStore(), { ttlS: 60 });
    await expect(ledger.once('j', 'a1', 'result', async () => { throw new Error('503'); })).rejects.toThrow('503');
    expect(await ledger.get('j')).toBeNull();
    expect((await ledger.once('j', 'a2', 'result', async () => ({ messageId: 'ok' }))).record.messageId).toBe('ok');
  });

  it('a claim left by a dead attempt is taken over (and reported), so the result is not lost', async () => {
    const kv = new MemoryKeyValueStore();
    const ledger = new DeliveryLedger(kv, { ttlS: 60, onTakeover: (jobId, prev) => takeovers.push([jobId, prev.state === 'posting' ? prev.owner : '']) });
    const takeovers: Array<[string, string]> = [];
    await kv.set('delivery:j', JSON.stringify({ state: 'posting', owner: 'dead-worker', outcome: 'result', at: 1 }), 60);
    const out = await ledger.once('j', 'a2', 'result', async () => ({ messageId: 'm' }));
    expect(out.posted).toBe(true);
    expect(takeovers).toEqual([['j', 'dead-worker']]);
  });
});

describe('RecyclePolicy', () => {
  it('retires after max jobs or above the RSS bound; 0 disables each', () => {
    const byJobs = new RecyclePolicy({ maxJobs: 3, maxRssMb: 0 });
    expect([byJobs.jobFinished(), byJobs.jobFinished(), byJobs.jobFinished()]).toEqual([null, null, { kind: 'max-jobs', jobs: 3 }]);
    let rss = 100 * 1024 * 1024;
    const byRss = new RecyclePolicy({ maxJobs: 0, maxRssMb: 200, rssBytes: () => rss });
    expect(byRss.jobFinished()).toBeNull();
    rss = 250 * 1024 * 1024;
    expect(byRss.jobFinished()).toEqual({ kind: 'max-rss', rssMb: 250 });
    const never = new RecyclePolicy({ maxJobs: 0, maxRssMb: 0, rssBytes: () => 1e12 });
    for (let i = 0; i < 100; i++) expect(never.jobFinished()).toBeNull();
  });
});

describe('isPermanentJobError', () => {
  it('marks what another attempt cannot fix as permanent, and leaves the rest to retries', () => {
    const permanent = [new InvalidJobError('x', 'y'), new JobCancelledError(), new JobTimeoutError(5), new SourceUnavailableError('gone', 'r1'), new PermanentDeliveryError('Unknown Channel', 404)];
    const retryable = [new Error('ECONNRESET'), new ModelLoadError('m', new Error('x')), new NoDelivererError('slack', ['discord'])];
    expect(permanent.map(isPermanentJobError)).toEqual([true, true, true, true, true]);
    expect(retryable.map(isPermanentJobError)).toEqual([false, false, false]);
  });
});

describe('failureNotice', () => {
  it('says cancelled, explains timeouts and broken models without internals, and offers Retry only where it can help', () => {
    expect(failureNotice(new JobCancelledError())).toEqual({ message: 'Cancelled.', retry: false, cancelled: true });
    expect(failureNotice(new InvalidJobError('This request is malformed and cannot be run. Please send it again.', 'params.steps: too big'))).toEqual({
      message: 'This request is malformed and cannot be run. Please send it again.',
      retry: false,
    });
    expect(failureNotice(new JobTimeoutError(600)).message).toBe('This took longer than the 10 min limit and was stopped. Try fewer steps, a smaller size or fewer images.');
    const broken = failureNotice(new ModelLoadError('tiny', new Error('model folder /srv/models/tiny: missing unet/model.onnx')));
    expect(broken).toEqual({ message: 'The model "tiny" is not available right now (it failed to load on the worker). Try again later or pick another model.', retry: true });
    expect(failureNotice(new Error('job stalled more than allowable limit')).retry).toBe(true);
    expect(failureNotice(new Error('job stalled more than allowable limit')).message).toContain('stopped the image worker twice');
    expect(failureNotice(new Error('ORT: CUDA out of memory at /home/x'))).toEqual({ message: 'Something went wrong while making this image. You can retry it.', retry: true });
  });
});

describe('batchingEnabled', () => {
  it('auto batches on an accelerator and not on CPU; on/off are obeyed as set', () => {
    expect(batchingEnabled({ WORKER_BATCHING: 'auto', ORT_PROVIDERS: ['cuda', 'cpu'] })).toBe(true);
    expect(batchingEnabled({ WORKER_BATCHING: 'auto', ORT_PROVIDERS: ['tensorrt'] })).toBe(true);
    expect(batchingEnabled({ WORKER_BATCHING: 'auto', ORT_PROVIDERS: ['cpu'] })).toBe(false);
    expect(batchingEnabled({ WORKER_BATCHING: 'on', ORT_PROVIDERS: ['cpu'] })).toBe(true);
    expect(batchingEnabled({ WORKER_BATCHING: 'off', ORT_PROVIDERS: ['cuda'] })).toBe(false);
  });
});

describe('DelivererRegistry', () => {
  it('gives each platform its deliverer and names what is missing', () => {
    const discord = new RecordingDeliverer({ platform: 'discord' });
    const registry = new DelivererRegistry([discord, new RecordingDeliverer({ platform: 'web' })]);
    expect(registry.get('discord')).toBe(discord);
    expect(registry.platforms()).toEqual(['discord', 'web']);
    expect(() => registry.get('slack')).toThrow(NoDelivererError);
    expect(() => registry.get('slack')).toThrow('this process cannot deliver to slack (it delivers to: discord, web); set that platform\'s credentials on the bot');
    expect(() => registry.add(new RecordingDeliverer({ platform: 'discord' }))).toThrow('two deliverers for discord');
  });
});
