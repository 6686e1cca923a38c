/**
 * Delivery tasks on a real Redis queue, run by the bot side's consumer: what BullMQ tries again
 * and what it must not. A delivery step that fails on Redis or storage before anything was
 * posted (a Cluster failover answers "Too many Cluster redirections" for a few seconds) is tried
 * again after a backoff and posts once; a task whose result is gone, or whose post was made but
 * could not be marked done, ends at once (a second try could not help, or would post twice).
 */
import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import type { DeliveryTask } from '../../src/delivery-tasks.ts';
import { startDeliverySide, type DeliverySide } from '../../src/delivery-side.ts';
import type { KvWrite } from '../../src/kv.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { createMetrics } from '../../src/metrics.ts';
import { RedisDeliveryOutbox } from '../../src/queue/delivery-queue.ts';
import { closeRedis, redisFromConfig } from '../../src/redis.ts';
import { ResultStore } from '../../src/results.ts';
import { testResult, txt2imgPayload } from '../../kit/job-fixtures.ts';
import { tempDir, waitFor } from '../../kit/worker-fixtures.ts';
import { silentLogger, useQueueHarness } from '../support/queue-harness.ts';
import { RecordingDeliverer } from '../support/recording-deliverer.ts';

const h = useQueueHarness('delivery-queue');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A store whose reads or batch writes fail, as a Redis client does while a failover is under way. */
class FlakyStore extends MemoryKeyValueStore {
  failReads = 0;
  failBatches = 0;
  private fault(): Error {
    return new Error('Too many Cluster redirections. Last error: Error: Connection is closed.');
  }
  override async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (this.failReads > 0 && this.failReads--) throw this.fault();
    return super.getMany(keys);
  }
  override async setMany(writes: readonly KvWrite[]): Promise<boolean[]> {
    if (this.failBatches > 0 && this.failBatches--) throw this.fault();
    return super.setMany(writes);
  }
}

interface Rig {
  kv: FlakyStore;
  deliverer: RecordingDeliverer;
  outbox: RedisDeliveryOutbox;
  artifacts: FsArtifactStore;
  side: DeliverySide;
}

async function rig(): Promise<Rig> {
  const config = h.config();
  const kv = new FlakyStore();
  const deliverer = new RecordingDeliverer();
  const redis = redisFromConfig(config, { role: 'worker', name: 'delivery-test', logger: silentLogger });
  const artifacts = new FsArtifactStore(tempDir('delivery-queue-artifacts'));
  const side = await startDeliverySide({ config, deliverers: [deliverer], kv, artifacts, metrics: createMetrics(), logger: silentLogger, redis });
  const outbox = new RedisDeliveryOutbox(redis, config, silentLogger);
  cleanups.push(async () => {
    await side.close();
    await outbox.close();
    await closeRedis(redis);
  });
  return { kv, deliverer, outbox, artifacts, side };
}

/** A one-image result stored as a worker leaves it (record and file); its delivery task. */
async function storedTask(r: Rig, jobId: string): Promise<Extract<DeliveryTask, { outcome: 'result' }>> {
  const resultId = `res-${jobId}`;
  const key = `${resultId}/0.png`;
  const ref = await r.artifacts.put(key, Buffer.from('png bytes of ' + jobId), 'image/png');
  const base = testResult();
  await new ResultStore(r.kv).save(testResult({ resultId, jobId, images: [{ ...base.images[0], artifact: ref }], grid: undefined }), 3600);
  return { outcome: 'result', jobId, payload: txt2imgPayload(), resultId };
}

async function settled(r: Rig, taskId: string): Promise<Job> {
  return waitFor(`task ${taskId} settled`, async () => {
    const job = await r.outbox.queue.getJob(taskId);
    return job?.finishedOn ? job : null;
  }, 30_000, 50);
}

const posts = (r: Rig, jobId: string) => r.deliverer.events.filter((e) => e.type === 'result' && e.jobId === jobId);

describe.skipIf(!h.available)('delivery tasks on Redis', () => {
  it('Redis failing under the delivery step before the post: the task is tried again after a backoff and posts once', async () => {
    const r = await rig();
    const task = await storedTask(r, 'flaky-read');
    r.kv.failReads = 2; // the result read fails on the first two tries
    await r.outbox.enqueue(task);
    const job = await settled(r, 'result-flaky-read');
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(3);
    expect(posts(r, 'flaky-read')).toHaveLength(1);
    expect(posts(r, 'flaky-read')[0]).toMatchObject({ resultId: 'res-flaky-read', images: 1 });
    expect(await r.side.service.ledger.delivered('flaky-read')).toMatchObject({ state: 'done', messageId: 'msg-flaky-read' });
  });

  it('a result that is not stored: the task fails at once, nothing is posted', async () => {
    const r = await rig();
    await r.outbox.enqueue({ outcome: 'result', jobId: 'gone', payload: txt2imgPayload(), resultId: 'res-never-stored' });
    const job = await settled(r, 'result-gone');
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toBe('result res-never-stored of job gone is not stored (expired or never written)');
    expect(r.deliverer.events).toEqual([]);
  });

  it('a post made whose done mark cannot be written: the task ends at once and is never posted again', async () => {
    const r = await rig();
    const task = await storedTask(r, 'unmarked');
    await r.outbox.enqueue(task);
    // The claim goes through (one batch); every mark after the post fails.
    const claim = r.kv.setMany.bind(r.kv);
    r.kv.setMany = async (writes) => {
      if (writes.some((w) => w.value.includes('"state":"done"'))) r.kv.failBatches = 100;
      return claim(writes);
    };
    const job = await settled(r, 'result-unmarked');
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/^job unmarked was posted, but its delivery record could not be marked done: Too many Cluster redirections/);
    // Past the first backoff: no second try has posted again.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(posts(r, 'unmarked')).toHaveLength(1);
  });
});
