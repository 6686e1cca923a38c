/** What every chat adapter shares: the per-event command context and the store lookups in src/bot-services.ts. */
import { describe, expect, it } from 'vitest';
import { commandContext } from '../commands/context.ts';
import { jobPayloadLookup } from '../src/bot-services.ts';
import { loadConfig } from '../src/config.ts';
import { MAX_SEED } from '../src/jobs.ts';
import { MemoryKeyValueStore } from '../src/kv-memory.ts';
import { createModelCatalog } from '../src/models.ts';
import { LocalJobQueue } from '../src/queue/local-queue.ts';
import type { JobQueue } from '../src/queue/types.ts';
import { context, origin, TINY, wordTokenCounter } from './support/command-context.ts';
import { txt2imgPayload } from './support/job-fixtures.ts';

describe('commandContext', () => {
  const env = { limits: context().limits, models: createModelCatalog([TINY], 'tiny'), countTokens: wordTokenCounter };

  it('carries the environment and the origin, with the time of the event', () => {
    const before = Date.now();
    const ctx = commandContext({ ...env, randomSeed: () => 7 }, origin({ userId: 'u9' }));
    expect(ctx.origin).toEqual(origin({ userId: 'u9' }));
    expect(ctx.limits).toBe(env.limits);
    expect(ctx.models).toBe(env.models);
    expect(ctx.countTokens).toBe(wordTokenCounter);
    expect(ctx.randomSeed()).toBe(7);
    expect(ctx.now).toBeGreaterThanOrEqual(before);
    expect(ctx.now).toBeLessThanOrEqual(Date.now());
  });

  it('draws seeds over the whole seed range when no source is injected', () => {
    const ctx = commandContext(env, origin());
    const drawn = Array.from({ length: 200 }, () => ctx.randomSeed());
    for (const seed of drawn) expect(Number.isInteger(seed) && seed >= 0 && seed <= MAX_SEED).toBe(true);
    expect(new Set(drawn).size).toBeGreaterThan(190);
    // Uniform over 2^32 values: some seed above 2^31 is all but certain in 200 draws.
    expect(drawn.some((s) => s > 2 ** 31)).toBe(true);
  });
});

describe('jobPayloadLookup', () => {
  it('reads a kept job from the in-process queue, and null for an unknown one', async () => {
    const queue = new LocalJobQueue({ config: loadConfig({ LOG_LEVEL: 'silent' }), secrets: new MemoryKeyValueStore() });
    const payload = txt2imgPayload({ seed: 9 });
    const queued = await queue.enqueue(payload);
    if (!queued.ok) throw new Error(queued.message);
    const lookup = jobPayloadLookup(queue)!;
    expect(await lookup(queued.jobId)).toEqual(payload);
    expect(await lookup('no-such-job')).toBeNull();
    await queue.close();
  });

  it('has nothing to offer for a queue that keeps no payloads', () => {
    const elsewhere = { backend: 'local' } as unknown as JobQueue;
    expect(jobPayloadLookup(elsewhere)).toBeUndefined();
  });
});
