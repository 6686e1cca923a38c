/**
 * 200 concurrent enqueues from 10 separate connections (10 queue instances, each with its own
 * ioredis client): no job lost or duplicated, and every limit holds exactly, counted in Redis.
 */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.ts';
import type { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import type { EnqueueOutcome } from '../../src/queue/types.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';
import { useQueueHarness } from '../support/queue-harness.ts';

const h = useQueueHarness('concurrency');
const CONNECTIONS = 10;
const TOTAL = 200;

interface Request {
  userId: string;
  dedupeId?: string;
}

async function race(config: Config, requests: Request[]): Promise<{ outcomes: EnqueueOutcome[]; queues: BullmqJobQueue[] }> {
  const queues = Array.from({ length: CONNECTIONS }, () => h.queue(config));
  await Promise.all(queues.map((q) => q.queue.waitUntilReady()));
  const outcomes = await Promise.all(
    requests.map((r, i) => queues[i % CONNECTIONS].enqueue(txt2imgPayload({ origin: { userId: r.userId }, prompt: `req ${i}` }), { dedupeId: r.dedupeId })),
  );
  return { outcomes, queues };
}

/** What Redis holds: every waiting job id with its owner, read from the job hashes. */
async function waitingJobs(config: Config, q: BullmqJobQueue): Promise<{ id: string; userId: string; prompt: string }[]> {
  const redis = h.connection();
  const ids = await redis.zrange(q.keys.prioritized, 0, -1);
  return Promise.all(
    ids.map(async (id) => {
      const data = JSON.parse((await redis.hget(q.keys.jobPrefix + id, 'data'))!);
      return { id, userId: data.origin.userId, prompt: data.params.prompt };
    }),
  );
}

const accepted = (outcomes: EnqueueOutcome[]) => outcomes.filter((o): o is Extract<EnqueueOutcome, { ok: true }> => o.ok);

describe.skipIf(!h.available)(`${TOTAL} concurrent enqueues from ${CONNECTIONS} connections`, () => {
  it('with no limit reached: every job stored once, positions exactly 1..200 once all are in', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '1000', LIMIT_QUEUE_DEPTH: '1000' });
    const { outcomes, queues } = await race(config, Array.from({ length: TOTAL }, (_, i) => ({ userId: `u${i % 20}` })));
    const ok = accepted(outcomes);
    expect(ok).toHaveLength(TOTAL);
    const stored = await waitingJobs(config, queues[0]);
    expect(stored).toHaveLength(TOTAL);
    expect(new Set(stored.map((j) => j.id))).toEqual(new Set(ok.map((o) => o.jobId)));
    expect(new Set(stored.map((j) => j.prompt)).size).toBe(TOTAL);
    // Once all are in, the places are exactly 1..200. (A place told at enqueue may move back: a
    // job added later takes its fair turn ahead of it when its user had fewer jobs waiting.)
    const places = await Promise.all(ok.map((o) => queues[0].position(o.jobId)));
    expect([...places].sort((a, b) => a! - b!)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    for (const o of ok) expect(o.position).toBeGreaterThanOrEqual(1);
    expect(await h.connection().zcard(queues[0].keys.pending)).toBe(0);
  });

  it('the global depth cap admits exactly LIMIT_QUEUE_DEPTH', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '1000', LIMIT_QUEUE_DEPTH: '137' });
    const { outcomes, queues } = await race(config, Array.from({ length: TOTAL }, (_, i) => ({ userId: `u${i % 50}` })));
    expect(accepted(outcomes)).toHaveLength(137);
    expect(outcomes.filter((o) => !o.ok && o.reason === 'queue-full')).toHaveLength(TOTAL - 137);
    const stored = await waitingJobs(config, queues[0]);
    expect(new Set(stored.map((j) => j.id))).toEqual(new Set(accepted(outcomes).map((o) => o.jobId)));
  });

  it('the per-user queued cap admits exactly LIMIT_USER_QUEUED per user', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '7', LIMIT_USER_PER_MINUTE: '1000', LIMIT_QUEUE_DEPTH: '1000' });
    const { outcomes, queues } = await race(config, Array.from({ length: TOTAL }, (_, i) => ({ userId: `u${i % 10}` })));
    expect(accepted(outcomes)).toHaveLength(70);
    expect(outcomes.filter((o) => !o.ok && o.reason === 'user-queued-limit')).toHaveLength(130);
    const perUser = new Map<string, number>();
    for (const j of await waitingJobs(config, queues[0])) perUser.set(j.userId, (perUser.get(j.userId) ?? 0) + 1);
    expect([...perUser.values()]).toEqual(Array(10).fill(7));
  });

  it('the per-minute cap admits exactly LIMIT_USER_PER_MINUTE per user', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '5', LIMIT_QUEUE_DEPTH: '1000' });
    const { outcomes, queues } = await race(config, Array.from({ length: TOTAL }, (_, i) => ({ userId: `u${i % 10}` })));
    expect(accepted(outcomes)).toHaveLength(50);
    expect(outcomes.filter((o) => !o.ok && o.reason === 'user-rate-limit')).toHaveLength(150);
    const stored = await waitingJobs(config, queues[0]);
    expect(stored).toHaveLength(50);
    for (let u = 0; u < 10; u++) expect(stored.filter((j) => j.userId === `u${u}`)).toHaveLength(5);
  });

  it('each event delivered twice (from different connections) makes one job per event', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '1000', LIMIT_QUEUE_DEPTH: '1000' });
    const requests = Array.from({ length: TOTAL }, (_, i) => ({ userId: `u${i % 20}`, dedupeId: `evt-${i % 100}` }));
    const { outcomes, queues } = await race(config, requests);
    const ok = accepted(outcomes);
    expect(ok).toHaveLength(TOTAL);
    expect(ok.filter((o) => !o.duplicate)).toHaveLength(100);
    for (let e = 0; e < 100; e++) expect(ok[e].jobId).toBe(ok[e + 100].jobId);
    expect(await waitingJobs(config, queues[0])).toHaveLength(100);
  });
});
