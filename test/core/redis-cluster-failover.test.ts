/**
 * A master failover on a real Redis Cluster in the middle of a stream of jobs: the replica of
 * the master that holds the queue's slot is promoted (`CLUSTER FAILOVER`, as an operator or a
 * managed service's maintenance does; and, last, by killing that master) while workers take,
 * run and deliver jobs. No job may be lost and none posted twice: posts are counted on the
 * recording deliverer. Also a worker fault scenario of test/worker/faults.test.ts (a worker killed
 * mid-job), on the cluster, with separate worker and bot processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { deliveryTaskId } from '../../src/delivery-tasks.ts';
import { RedisDeliveryOutbox } from '../../src/queue/delivery-queue.ts';
import { silentLogger, useQueueHarness } from '../support/queue-harness.ts';
import { readDeliveries, RecordingDeliverer } from '../support/recording-deliverer.ts';
import { tempDir, txt2imgPayload, waitFor } from '../../kit/worker-fixtures.ts';
import { inProcessWorker, progressStep, scenario as scenarioOn, slowJob, state } from '../support/worker-scenario.ts';

const h = useQueueHarness('failover', { cluster: true });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const scenario = (label: string, env: Record<string, string> = {}) => scenarioOn({ url: h.url, env: h.env, cleanups }, label, env);

/** Each job's number of result posts in a recording file. */
function postsPerJob(file: string, ids: string[]): number[] {
  const results = readDeliveries(file).filter((e) => e.type === 'result');
  return ids.map((id) => results.filter((e) => e.jobId === id).length);
}

/**
 * 30 jobs through an in-process worker and delivery side; once a few are posted, `move` takes the
 * queue's slot to another master; 5 more jobs follow. Every job must be posted exactly once.
 */
async function streamAcross(label: string, move: (prefix: string) => Promise<{ from: number; to: number }>): Promise<void> {
  const config = h.config({ ARTIFACT_DIR: tempDir(`${label}-artifacts`), LIMIT_USER_QUEUED: '1000', LIMIT_USER_PER_MINUTE: '10000' });
  const deliverer = new RecordingDeliverer();
  await inProcessWorker({ cleanups }, config, deliverer);
  const q = h.queue(config);
  const ids: string[] = [];
  const enqueue = async (seed: number) => {
    const o = await q.enqueue(txt2imgPayload({ seed, steps: 20, width: 128, height: 128 }));
    if (!o.ok) throw new Error(o.message);
    ids.push(o.jobId);
  };
  for (let i = 0; i < 30; i++) await enqueue(700 + i);
  const posted = () => deliverer.events.filter((e) => e.type === 'result').length;
  await waitFor('a few delivered', () => posted() >= 3, 30_000, 5);

  const before = await h.cluster.masterOf(config.QUEUE_PREFIX);
  const moved = await move(config.QUEUE_PREFIX);
  expect(moved.from).toBe(before.port);
  expect((await h.cluster.masterOf(config.QUEUE_PREFIX)).port).toBe(moved.to);
  // The move really hit the run: most jobs were still queued or running.
  expect(posted()).toBeLessThan(25);
  // Jobs enqueued on the new master go through too.
  for (let i = 0; i < 5; i++) await enqueue(800 + i);

  // Generous: on a loaded machine the election, the clients' slot refresh and the stall checks
  // that recover a write the dead master had not replicated all stretch.
  const undelivered = () => ids.filter((id) => !deliverer.events.some((e) => e.type === 'result' && e.jobId === id));
  await waitFor('all delivered', () => undelivered().length === 0, 150_000, 50).catch(async (err: Error) => {
    // Say where each missing job stands, so a failure points at the write that went missing.
    const tasks = new RedisDeliveryOutbox(q.redis, config, silentLogger);
    const where = await Promise.all(undelivered().map(async (id) => {
      const task = await tasks.queue.getJob(deliveryTaskId({ outcome: 'result', jobId: id }));
      return `${id}: job ${await state(q, id)}, delivery task ${await task?.getState()} ${task?.failedReason ?? ''}`;
    }));
    await tasks.close();
    throw new Error(`${err.message}; not delivered:\n${where.join('\n')}`);
  });
  await new Promise((r) => setTimeout(r, 500));
  const results = deliverer.events.filter((e) => e.type === 'result');
  expect(ids.map((id) => results.filter((e) => e.jobId === id).length)).toEqual(ids.map(() => 1));
  expect(results.map((e) => (e as { seeds: number[] }).seeds[0]).sort()).toEqual([...Array.from({ length: 30 }, (_, i) => 700 + i), ...Array.from({ length: 5 }, (_, i) => 800 + i)]);
  expect(deliverer.events.filter((e) => e.type === 'failure')).toEqual([]);
  expect(await q.counts()).toMatchObject({ waiting: 0, active: 0, completed: 35, failed: 0 });
}

describe.skipIf(!h.available)('master failover on a Redis Cluster', () => {
  it('mid-stream: the worker and the delivery side follow the new master; every job is delivered exactly once', async () => {
    await streamAcross('failover', (prefix) => h.cluster.failover(prefix));
  }, 200_000);

  it('worker and bot processes: a failover, then a worker killed mid-job; another worker finishes it and the bot posts each job once', async () => {
    const s = scenario('processes', { TEST_DELIVERY: 'off' });
    const a = await s.spawnWorker();
    const bot = await s.spawnDelivery();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await s.enqueue(txt2imgPayload({ seed: 900 + i, steps: 10, width: 128, height: 128 })));
    const slow = await s.enqueue(slowJob({ seed: 950 }));
    await waitFor('two posted', () => postsPerJob(s.deliveries, ids).filter((n) => n > 0).length >= 2, 60_000, 20);

    await h.cluster.failover(s.config.QUEUE_PREFIX);
    // Worker A is now running the slow job against the new master: kill it there.
    await waitFor('the slow job running on A', async () => (await progressStep(s.queue, slow)) >= 2, 60_000);
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');

    const b = await s.spawnWorker();
    await waitFor('every job posted', () => postsPerJob(s.deliveries, [...ids, slow]).every((n) => n > 0), 90_000, 50);
    await waitFor('the slow job completed', async () => (await state(s.queue, slow)) === 'completed', 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(postsPerJob(s.deliveries, [...ids, slow])).toEqual([...ids, slow].map(() => 1));
    const slowPost = readDeliveries(s.deliveries).find((e) => e.type === 'result' && e.jobId === slow) as { seeds: number[]; pid: number };
    // Posted by the bot process (workers hold no deliverer), from B's run after the stall.
    expect(slowPost).toMatchObject({ seeds: [950], pid: bot.pid });
    expect(await s.queue.redis.hget(`${s.queue.keys.jobPrefix}${slow}`, 'stc')).toBe('1');
    expect(readDeliveries(s.deliveries).filter((e) => e.pid === a.pid || e.pid === b.pid)).toEqual([]);
  }, 150_000);

  // Last in the file: it leaves the cluster with a master down.
  it('a master killed without warning mid-stream: its replica takes over; every job is delivered exactly once', async () => {
    await streamAcross('killed', (prefix) => h.cluster.killMaster(prefix));
  }, 200_000);
});
