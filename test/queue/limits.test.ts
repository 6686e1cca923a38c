/** Per-user and global admission limits, exactly at their boundaries, on a real Redis. */
import type { RedisClient } from '../../src/redis.ts';
import { describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/kv.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { RATE_WINDOW_MS } from '../../src/queue/limits.ts';
import { enqueueOk, payloadBy, prepareStory, userQueuedLimitStory } from '../support/queue-fixtures.ts';
import { keysUnder, silentLogger, useQueueHarness } from '../support/queue-harness.ts';
import { interactionTokenGrant } from '../../adapters/discord/secret.ts';

const h = useQueueHarness('limits');

/** Pretend the user's last-minute entries happened `ms` earlier (the window slides in Redis time). */
async function ageRateWindow(redis: RedisClient, q: BullmqJobQueue, userId: string, ms: number): Promise<void> {
  const key = q.keys.userRate(userId);
  const entries = await redis.zrange(key, 0, -1, 'WITHSCORES');
  for (let i = 0; i < entries.length; i += 2) await redis.zadd(key, 'XX', Number(entries[i + 1]) - ms, entries[i]);
}

describe.skipIf(!h.available)('queued-per-user limit', () => {
  it('allows N, refuses N+1 with a clear message, and frees a slot on cancel, completion and final failure', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '3', LIMIT_USER_PER_MINUTE: '100', JOB_ATTEMPTS: '1' });
    const q = h.queue(config);
    await userQueuedLimitStory(q, () => h.worker(config), async (id) => expect((await q.queue.getJob(id))!.finishedOn).toBeTypeOf('number'));
  });

  it('holds the slot while a prepare step runs, queues what it returns, and gives the slot back when it fails', async () => {
    await prepareStory(h.queue(h.config({ LIMIT_USER_QUEUED: '1', LIMIT_USER_PER_MINUTE: '3' })));
  });

  it('a job waiting for a retry still holds its slot', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '1', JOB_ATTEMPTS: '3' });
    const q = h.queue(config);
    const [id] = await enqueueOk(q, 'carol', 1);
    const worker = await h.worker(config);
    await worker.waitStarted(1);
    await worker.fail(id);
    expect(await (await q.queue.getJob(id))!.getState()).toBe('delayed');
    expect(await q.enqueue(payloadBy('carol'))).toMatchObject({ ok: false, reason: 'user-queued-limit' });
  });
});

describe.skipIf(!h.available)('per-minute limit', () => {
  it('allows N in a minute, refuses N+1 saying when to retry, and allows again once the minute has passed', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '100', LIMIT_USER_PER_MINUTE: '4' });
    const q = h.queue(config);
    const ids = await enqueueOk(q, 'dave', 4);
    const refused = await q.enqueue(payloadBy('dave'));
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.reason).toBe('user-rate-limit');
    const seconds = Number(/Try again in (\d+) seconds?\./.exec(refused.message)?.[1]);
    expect(refused.message.startsWith('You have started 4 image jobs in the last minute, the most allowed.')).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(59);
    expect(seconds).toBeLessThanOrEqual(60);

    // Cancelling does not give back a per-minute start.
    await q.cancel(ids[0], 'dave');
    expect((await q.enqueue(payloadBy('dave'))).ok).toBe(false);

    const redis = h.connection();
    await ageRateWindow(redis, q, 'dave', RATE_WINDOW_MS - 1_000);
    expect((await q.enqueue(payloadBy('dave'))).ok).toBe(false);
    await ageRateWindow(redis, q, 'dave', 1_001);
    expect((await q.enqueue(payloadBy('dave'))).ok).toBe(true);
    expect(await redis.zcard(q.keys.userRate('dave'))).toBe(1);
  });
});

describe.skipIf(!h.available)('queue depth cap', () => {
  it('allows exactly LIMIT_QUEUE_DEPTH waiting jobs and admits again when one starts', async () => {
    const config = h.config({ LIMIT_QUEUE_DEPTH: '5' });
    const q = h.queue(config);
    for (let i = 0; i < 5; i++) expect((await q.enqueue(payloadBy(`u${i}`))).ok).toBe(true);
    expect(await q.enqueue(payloadBy('u5'))).toEqual({
      ok: false,
      reason: 'queue-full',
      message: 'The image queue is full (5 jobs waiting). Please try again in a few minutes.',
    });
    const worker = await h.worker(config);
    await worker.waitStarted(1);
    expect((await q.enqueue(payloadBy('u5'))).ok).toBe(true);
    expect((await q.enqueue(payloadBy('u6'))).ok).toBe(false);
  });

  it('checks the user limits before the depth cap, so the message is about the user', async () => {
    const config = h.config({ LIMIT_QUEUE_DEPTH: '2', LIMIT_USER_QUEUED: '2' });
    const q = h.queue(config);
    await enqueueOk(q, 'erin', 2);
    expect(await q.enqueue(payloadBy('erin'))).toMatchObject({ reason: 'user-queued-limit' });
    expect(await q.enqueue(payloadBy('frank'))).toMatchObject({ reason: 'queue-full' });
  });
});

describe.skipIf(!h.available)('a failed add gives the reservation back', () => {
  it('frees the user slot, the per-minute entry and the dedupe id, and leaves no job', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '1', LIMIT_USER_PER_MINUTE: '1' });
    const brokenSecrets: KeyValueStore = {
      get: async () => null,
      set: async () => {
        throw new Error('secret store unavailable');
      },
      setIfAbsent: async () => false,
      del: async () => {},
    };
    const failing = new BullmqJobQueue({ config, redis: h.connection(), secrets: brokenSecrets, logger: silentLogger });
    await expect(
      failing.enqueue(payloadBy('gina'), { dedupeId: 'evt-9', secret: interactionTokenGrant('tok') }),
    ).rejects.toThrow(/enqueue of a txt2img job failed: secret store unavailable/);
    const redis = h.connection();
    expect(await failing.counts()).toMatchObject({ waiting: 0 });
    expect(await redis.zcard(failing.keys.pending)).toBe(0);
    expect((await keysUnder(redis, failing.keys.base + ':limits')).length).toBe(0);
    const q = h.queue(config);
    expect(await q.enqueue(payloadBy('gina'), { dedupeId: 'evt-9' })).toMatchObject({ ok: true, duplicate: false });
    await failing.close();
  });
});
