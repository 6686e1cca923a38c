/**
 * Fair turns (src/queue/fair-order.ts) on both queue backends: the BullMQ queue on a private
 * real Redis and the in-process queue take the same arrivals in the same order, a newcomer's
 * first job comes within about one job per active user, a user's own jobs keep their order,
 * and positions are the order the worker really takes jobs in (also after a cancel and a retry).
 */
import { describe, expect, it, afterEach } from 'vitest';
import { loadConfig } from '../../src/root/config.ts';
import type { JobPayload } from '../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { LocalJobQueue } from '../../src/queue/local-queue.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import { burst, jobBy, USERS } from '../../kit/fair-fixtures.ts';
import { localGate } from '../support/local-gate.ts';
import { useQueueHarness } from '../support/queue-harness.ts';
import type { DrivenWorker } from '../support/queue-fixtures.ts';
import { waitFor } from '../../kit/worker-fixtures.ts';

const h = useQueueHarness('fair');
const ENV = { LIMIT_USER_QUEUED: '10', LIMIT_USER_PER_MINUTE: '100', LIMIT_QUEUE_DEPTH: '1000' };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function enqueueAll(q: JobQueue, payloads: JobPayload[]): Promise<{ id: string; label: string; position: number }[]> {
  const out: { id: string; label: string; position: number }[] = [];
  for (const p of payloads) {
    const o = await q.enqueue(p);
    if (!o.ok) throw new Error(o.message);
    out.push({ id: o.jobId, label: p.params.prompt, position: o.position });
  }
  return out;
}

/** The labels of every waiting job, by position. */
async function line(q: JobQueue, jobs: { id: string; label: string }[]): Promise<string[]> {
  const withPos = await Promise.all(jobs.map(async (j) => ({ ...j, pos: await q.position(j.id) })));
  const waiting = withPos.filter((j) => (j.pos ?? 0) > 0).sort((a, b) => a.pos! - b.pos!);
  expect(waiting.map((j) => j.pos)).toEqual(waiting.map((_, i) => i + 1)); // positions 1..n, no gaps or ties
  return waiting.map((j) => j.label);
}

function localQueue(): LocalJobQueue {
  const q = new LocalJobQueue({ config: loadConfig({ LOG_LEVEL: 'silent', ...ENV }), secrets: new MemoryKeyValueStore(), backoffDelayMs: 20 });
  cleanups.push(() => q.close());
  return q;
}

interface Rig {
  q: JobQueue;
  worker(): Promise<DrivenWorker>;
  /** Bring a job waiting for its retry back now. */
  retryNow(jobId: string): Promise<void>;
}

const backends: { name: string; rig(): Rig }[] = [
  {
    name: 'BullMQ on Redis',
    rig() {
      const config = h.config(ENV);
      const q = h.queue(config);
      return {
        q,
        worker: () => h.worker(config),
        retryNow: async (jobId) => void (await (await q.getJob(jobId))!.promote()),
      };
    },
  },
  {
    name: 'in-process',
    rig() {
      const q = localQueue();
      return {
        q,
        worker: async () => localGate(q, cleanups),
        retryNow: (jobId) => waitFor('the retry to rejoin the line', () => q.jobState(jobId)?.state === 'waiting', 5_000, 5).then(() => undefined),
      };
    },
  },
];

describe.skipIf(!h.available)('fair turns', () => {
  const orders: Record<string, string[]> = {};

  for (const backend of backends) {
    it(`${backend.name}: a newcomer's first job among 100 waiting jobs from 30 users in 2 servers comes within one job per active user; each user's jobs keep their order`, async () => {
      const { q } = backend.rig();
      const jobs = await enqueueAll(q, burst());
      expect(jobs.map((j) => j.position).slice(0, 3)).toEqual([1, 2, 3]); // alone in line, user-0's jobs go in order
      const newcomer = await enqueueAll(q, [jobBy('newbie', 'guild-1', 'newbie #0')]);

      // First come, first served would put it at 101; each active user has at most one job before it.
      expect(newcomer[0].position).toBeLessThanOrEqual(USERS + 1);
      expect(await q.position(newcomer[0].id)).toBe(newcomer[0].position);

      const order = await line(q, [...jobs, ...newcomer]);
      expect(order).toHaveLength(101);
      expect(order[newcomer[0].position - 1]).toBe('newbie #0');
      // Rounds: the first 31 turns are one job of every user (and the newcomer), servers alternating.
      expect(new Set(order.slice(0, USERS + 1).map((l) => l.split(' ')[0])).size).toBe(USERS + 1);
      expect(order.slice(0, 6).map((l) => Number(l.split(' ')[0].split('-')[1]) % 2)).toEqual([0, 1, 0, 1, 0, 1]);
      for (let u = 0; u < USERS; u++) {
        const mine = order.filter((l) => l.startsWith(`user-${u} `));
        expect(mine).toEqual([...mine].sort());
      }
      orders[backend.name] = order;
    });
  }

  it('both backends give the same order', () => {
    expect(Object.keys(orders)).toHaveLength(2);
    expect(orders['in-process']).toEqual(orders['BullMQ on Redis']);
  });

  for (const backend of backends) {
    it(`${backend.name}: the worker takes jobs in the order positions show, also after a cancel and a retry`, async () => {
      const { q, worker: startWorker, retryNow } = backend.rig();
      // Rounds for alice (a), bob (b), carol (c) in one server and dave (d) in another.
      const jobs = await enqueueAll(q, [
        jobBy('alice', 'w1', 'a1'),
        jobBy('alice', 'w1', 'a2'),
        jobBy('alice', 'w1', 'a3'),
        jobBy('bob', 'w1', 'b1'),
        jobBy('bob', 'w1', 'b2'),
        jobBy('carol', 'w1', 'c1'),
        jobBy('dave', 'w2', 'd1'),
      ]);
      expect(await line(q, jobs)).toEqual(['a1', 'd1', 'b1', 'c1', 'a2', 'b2', 'a3']);
      const id = (label: string) => jobs.find((j) => j.label === label)!.id;

      expect(await q.cancel(id('c1'), 'carol')).toEqual({ ok: true, state: 'removed' });
      expect(await line(q, jobs)).toEqual(['a1', 'd1', 'b1', 'a2', 'b2', 'a3']);

      const worker = await startWorker();
      await worker.waitStarted(1);
      expect(worker.started[0]).toBe(id('a1'));
      await worker.fail(id('a1')); // a failed attempt: retried later, at its own turn
      await worker.waitStarted(2);
      expect(worker.started[1]).toBe(id('d1'));
      expect(await q.position(id('a1'))).toBe(1);
      await retryNow(id('a1'));
      expect(await line(q, jobs)).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);

      const expected = ['a1', 'b1', 'a2', 'b2', 'a3'];
      await worker.complete(id('d1'));
      for (let i = 0; i < expected.length; i++) {
        await worker.waitStarted(3 + i);
        expect(worker.started[2 + i]).toBe(id(expected[i]));
        await worker.complete(id(expected[i]));
      }
    });
  }
});
