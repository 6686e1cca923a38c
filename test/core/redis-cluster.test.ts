/**
 * The product on a real Redis Cluster (three masters, three replicas on loopback, one for the
 * file): the queue with its Lua scripts (admission limits, positions, cancel), the key-value
 * store, pub/sub (cancel requests, web events), a worker on a tiny real model delivering
 * through the delivery queue and ledger, the bot and worker processes from the real entry
 * point, and the start-up check that every node keeps keys (noeviction).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisWebEventHub, type WebEvent } from '../../adapters/web/events.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { subscribeCancels } from '../../src/queue/cancel-signal.ts';
import { checkEvictionPolicy, EvictionPolicyError } from '../../src/redis-eviction.ts';
import { closeRedis, isCluster, redisFromConfig } from '../../src/redis.ts';
import { startWorker } from '../../worker/main.ts';
import { modelEnv, spawnApp, startApp, type AppProcess } from '../../kit/app-process.ts';
import { payloadBy, positionsStory, prepareStory, userQueuedLimitStory } from '../support/queue-fixtures.ts';
import { keysUnder, silentLogger, useQueueHarness } from '../support/queue-harness.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';
import { RecordingDeliverer } from '../support/recording-deliverer.ts';
import { pipelineLoader, tempDir, tinyModel, txt2imgPayload, waitFor } from '../../kit/worker-fixtures.ts';

const h = useQueueHarness('cluster', { cluster: true });
const temp = mkdtempSync(path.join(os.tmpdir(), 'redis-cluster-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe.skipIf(!h.available)('the queue on a Redis Cluster', () => {
  it('connects as a cluster client; positions follow the line as a worker takes jobs', async () => {
    const config = h.config();
    const q = h.queue(config);
    expect(isCluster(q.redis)).toBe(true);
    const ids = await positionsStory(q, () => h.worker(config));
    expect(await q.counts()).toMatchObject({ waiting: 1, active: 1, completed: 1 });
    expect((await q.userJobs('user-3')).map((j) => [j.jobId, j.state, j.position])).toEqual([[ids[2], 'waiting', 1]]);
  });

  it('the admission script: the per-user cap, a slot freed by cancel, completion and final failure', async () => {
    const config = h.config({ LIMIT_USER_QUEUED: '3', LIMIT_USER_PER_MINUTE: '100', JOB_ATTEMPTS: '1' });
    const q = h.queue(config);
    await userQueuedLimitStory(q, () => h.worker(config), async (id) => expect((await q.queue.getJob(id))!.finishedOn).toBeTypeOf('number'));
  });

  it('the reservation around a prepare step, released when it fails; deduplication of a redelivered event', async () => {
    const q = h.queue(h.config({ LIMIT_USER_QUEUED: '1', LIMIT_USER_PER_MINUTE: '5' }));
    await prepareStory(q);
    const first = await q.enqueue(payloadBy('user-7'), { dedupeId: 'evt-7' });
    const again = await q.enqueue(payloadBy('user-7'), { dedupeId: 'evt-7' });
    // Second in line: prepareStory's last job waits ahead of it.
    expect(first).toMatchObject({ ok: true, duplicate: false, position: 2 });
    expect(again).toEqual({ ok: true, jobId: first.ok ? first.jobId : '', position: 2, duplicate: true });
  });

  it('the per-minute and depth caps', async () => {
    const q = h.queue(h.config({ LIMIT_USER_QUEUED: '100', LIMIT_USER_PER_MINUTE: '2', LIMIT_QUEUE_DEPTH: '3' }));
    expect((await q.enqueue(payloadBy('user-1'))).ok).toBe(true);
    expect((await q.enqueue(payloadBy('user-1'))).ok).toBe(true);
    expect(await q.enqueue(payloadBy('user-1'))).toMatchObject({ ok: false, reason: 'user-rate-limit' });
    expect((await q.enqueue(payloadBy('user-2'))).ok).toBe(true);
    expect(await q.enqueue(payloadBy('user-3'))).toMatchObject({ ok: false, reason: 'queue-full' });
  });

  it('cancelling a running job sets its flag and reaches a subscriber over cluster pub/sub', async () => {
    const config = h.config();
    const q = h.queue(config);
    const heard: string[] = [];
    const sub = await subscribeCancels(h.connection(), config, (id) => heard.push(id));
    try {
      const o = await q.enqueue(payloadBy('user-1'));
      if (!o.ok) throw new Error(o.message);
      const worker = await h.worker(config);
      await worker.waitStarted(1);
      expect(await q.cancel(o.jobId, 'user-1')).toEqual({ ok: true, state: 'cancelling' });
      expect(await q.isCancelRequested(o.jobId)).toBe(true);
      await waitFor('the cancel message', () => heard.length > 0, 5_000);
      expect(heard).toEqual([o.jobId]);
      await worker.complete(o.jobId);
    } finally {
      await sub.close();
    }
  });

  it('the key-value store reads and writes several keys at once (one slot), and web events cross processes by pub/sub', async () => {
    const config = h.config();
    const kv = RedisKeyValueStore.fromConfig(h.connection(), config);
    expect(await kv.setMany([{ key: 'a', value: '1', ttlS: 60 }, { key: 'b', value: '2', ttlS: 0 }, { key: 'a', value: 'x', ttlS: 60, ifAbsent: true }])).toEqual([true, true, false]);
    expect(await kv.getMany(['a', 'b', 'c'])).toEqual(['1', '2', null]);

    const publisher = new RedisWebEventHub(h.connection(), config, silentLogger);
    const subscriber = new RedisWebEventHub(h.connection(), config, silentLogger);
    const seen: WebEvent[] = [];
    subscriber.subscribe((e) => seen.push(e));
    await subscriber.whenSubscribed();
    const event: WebEvent = { type: 'progress', session: 's-1', jobId: 'j-1', step: 2, total: 4, etaMs: null };
    await publisher.publish(event);
    await waitFor('the web event', () => seen.length > 0, 5_000);
    expect(seen).toEqual([event]);
    await subscriber.close();
  });
});

describe.skipIf(!h.available)('credentials from REDIS_URL', () => {
  it("every node connection logs in as REDIS_URL's user", async () => {
    const password = 'pw-Cl4ster-9q';
    for (const port of h.cluster.ports) await h.cluster.node(port).acl('SETUSER', 'imagine-cluster', 'on', `>${password}`, '~*', '&*', '+@all');
    const config = h.config({ REDIS_URL: `redis://imagine-cluster:${password}@127.0.0.1:${h.cluster.ports[0]}` });
    const q = h.queue(config);
    if (!isCluster(q.redis)) throw new Error('expected a cluster client');
    expect((await q.enqueue(payloadBy('user-1'))).ok).toBe(true);
    const nodes = q.redis.nodes('all');
    expect(nodes).toHaveLength(6);
    expect(await Promise.all(nodes.map((n) => n.call('ACL', 'WHOAMI')))).toEqual(nodes.map(() => 'imagine-cluster'));

    // A wrong password stops start-up with the cluster's own reason.
    const wrong = redisFromConfig(h.config({ REDIS_URL: `redis://imagine-cluster:not-it@127.0.0.1:${h.cluster.ports[0]}` }), { logger: silentLogger });
    try {
      await expect(checkEvictionPolicy(wrong, false)).rejects.toThrow('Failed to refresh slots cache. WRONGPASS invalid username-password pair or user is disabled.');
    } finally {
      await closeRedis(wrong);
    }
  });
});

describe.skipIf(!h.available)('a worker and the delivery side on a Redis Cluster', () => {
  it('generates on a tiny real model and posts each result once through the delivery queue and ledger; every key stays in the prefix slot', async () => {
    const model = tinyModel();
    const config = h.config({ ARTIFACT_DIR: tempDir('cluster-artifacts'), PROGRESS_INTERVAL_MS: '0' });
    const deliverer = new RecordingDeliverer();
    const worker = await startWorker(config, { deliverers: [deliverer], logger: silentLogger, catalog: model.catalog, loadPipeline: pipelineLoader(), http: false });
    try {
      const q = h.queue(config);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const o = await q.enqueue(txt2imgPayload({ seed: 500 + i, steps: 3 }, { userId: `u-${i}` }));
        if (!o.ok) throw new Error(o.message);
        ids.push(o.jobId);
      }
      await waitFor('every result posted', () => ids.every((id) => deliverer.events.some((e) => e.jobId === id && e.type === 'result')), 60_000);
      const results = deliverer.events.filter((e) => e.type === 'result');
      expect(results.map((e) => e.jobId).sort()).toEqual([...ids].sort());
      for (const [i, id] of ids.entries()) expect(results.find((e) => e.jobId === id)).toMatchObject({ seeds: [500 + i], images: 1 });
      // Progress went worker -> progress channel -> delivery side.
      expect(deliverer.events.some((e) => e.type === 'progress' && ids.includes(e.jobId))).toBe(true);
      const kv = RedisKeyValueStore.fromConfig(q.redis, config);
      for (const id of ids) expect(await kv.get(`delivery:${id}`)).toContain('"done"');

      // Every key the queue, the worker and the delivery side wrote sits on the master of the prefix's slot.
      const master = await h.cluster.masterOf(config.QUEUE_PREFIX);
      const masters = (await h.cluster.nodes()).filter((n) => n.role === 'master');
      const byNode = await Promise.all(masters.map(async (n) => [n.port, await keysUnder(h.cluster.node(n.port), config.QUEUE_PREFIX)] as const));
      const holding = byNode.filter(([, keys]) => keys.length > 0);
      expect(holding.map(([port]) => port)).toEqual([master.port]);
      const keys = holding[0][1];
      expect(keys.some((k) => k.startsWith(`${config.QUEUE_PREFIX}:imagine:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${config.QUEUE_PREFIX}:imagine-deliveries:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${config.QUEUE_PREFIX}:kv:delivery:`))).toBe(true);
    } finally {
      await worker.close();
    }
    // Nothing the product wrote in this file lives outside a test's hash-tagged prefix (BullMQ's default `bull:` prefix included).
    for (const port of h.cluster.ports) {
      const stray = (await keysUnder(h.cluster.node(port), '')).filter((k) => !k.startsWith('{t-cluster-'));
      expect(stray).toEqual([]);
    }
  });
});

describe.skipIf(!h.available)('start-up on a Redis Cluster', () => {
  const models = modelEnv(temp);
  const running: AppProcess[] = [];
  afterAll(async () => {
    await Promise.all(running.map((a) => a.stop('SIGKILL')));
  });

  it('a bot and a worker process from REDIS_CLUSTER_NODES: the playground on the bot gets the image the worker made', async () => {
    // Seed nodes only: the processes find the other nodes themselves.
    const shared = { ...models, REDIS_CLUSTER_NODES: h.cluster.seedNodes.split(',').slice(0, 2).join(','), QUEUE_PREFIX: uniquePrefix('cluster'), ARTIFACT_DIR: path.join(temp, 'artifacts') };
    const [bot, worker] = await Promise.all([startApp(shared, ['--role=bot']), startApp(shared, ['--role=worker'])]);
    running.push(bot, worker);
    expect(bot.stdout()).toMatch(/queue: +redis cluster 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+ \(BullMQ \{t-cluster-[^}]+\}:imagine\)\n/);

    const cookie = 'imagine_session=BBBBBBBBBBBBBBBBBBBBBB';
    const post = await fetch(`${bot.url}/api/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ text: '/imagine a red circle --seed 91', requestId: 'cluster-request-1' }),
    });
    const reply = await post.json();
    expect(reply).toMatchObject({ kind: 'queued', position: expect.any(Number), duplicate: false });
    const gallery = await waitFor(
      'the result in the gallery',
      async () => {
        const g = (await (await fetch(`${bot.url}/api/gallery`, { headers: { cookie } })).json()) as { results: { jobId: string; images: { seed: number }[] }[] };
        return g.results.length > 0 ? g : null;
      },
      60_000,
      100,
    );
    expect(gallery.results.map((r) => [r.jobId, r.images[0].seed])).toEqual([[reply.jobId, 91]]);
    expect(await (await fetch(`http://127.0.0.1:${worker.port}/readyz`)).json()).toEqual({ ready: true, checks: { model: true, redis: true } });
  }, 120_000);

  it('refuses to start when any node, a replica too, may evict keys, naming the node', async () => {
    const cluster = h.connection();
    if (!isCluster(cluster)) throw new Error('expected a cluster client');
    expect(await checkEvictionPolicy(cluster, false)).toEqual({ ok: true, policy: 'noeviction' });

    const replica = (await h.cluster.nodes()).find((n) => n.role === 'replica')!;
    await h.cluster.node(replica.port).config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const refusal = await checkEvictionPolicy(cluster, false).catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(EvictionPolicyError);
      expect((refusal as Error).message).toBe(
        `Redis Cluster node 127.0.0.1:${replica.port} (replica) has maxmemory-policy allkeys-lru, but the job queue needs noeviction (an evicted key is a lost job): run CONFIG SET maxmemory-policy noeviction on every node and set it in redis.conf, or set REDIS_ALLOW_EVICTION=1 for development`,
      );
      // The real entry point says the same in one line and exits 1.
      const app = spawnApp({ ...models, REDIS_CLUSTER_NODES: h.cluster.seedNodes, QUEUE_PREFIX: uniquePrefix('cluster') }, ['--role=bot']);
      expect(await app.exited).toBe(1);
      expect(app.stderr()).toBe(`${(refusal as Error).message}\n`);
    } finally {
      await h.cluster.node(replica.port).config('SET', 'maxmemory-policy', 'noeviction');
    }
  }, 60_000);
});
