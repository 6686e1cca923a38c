/**
 * Shared set-up for queue integration tests: one private Redis per test file (or, with
 * `{ cluster: true }`, one Redis Cluster: every connection and config then points at it), a
 * fresh queue prefix per queue, and a real BullMQ Worker whose jobs finish only when the test says so.
 */
import { spawnSync } from 'node:child_process';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { closeRedis, isCluster, redisFromConfig, type RedisClient } from '../../src/redis.ts';
import { testConfig } from '../../kit/queue-prefix.ts';
import { startRedisCluster, type TestRedisCluster } from './redis-cluster.ts';
import { redisServerAvailable, startRedis, type TestRedis } from '../../kit/redis-server.ts';

export const silentLogger = createLogger({ level: 'silent' });

export interface Gate {
  /** Ids of jobs the worker has started, in order. */
  started: string[];
  /** Finish a running job; resolves once BullMQ has recorded it as completed. */
  complete(jobId: string): Promise<void>;
  /** Fail a running job's attempt; resolves once BullMQ has recorded the failure. */
  fail(jobId: string, message?: string): Promise<void>;
  /** Resolves once the worker has started this many jobs. */
  waitStarted(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface QueueHarnessOptions {
  /** Run on a Redis Cluster of three masters and three replicas (needs redis-server and redis-cli) instead of one server. */
  cluster?: boolean;
}

export function useQueueHarness(label: string, opts: QueueHarnessOptions = {}) {
  // A cluster is always started here (REDIS_URL or not): it needs both programs.
  const runs = (program: string) => spawnSync(program, ['--version'], { stdio: 'ignore' }).status === 0;
  const available = opts.cluster ? runs('redis-server') && runs('redis-cli') : redisServerAvailable();
  if (!available) console.warn(`SKIPPED: ${label} needs ${opts.cluster ? 'redis-server and redis-cli' : 'redis-server or REDIS_URL'}`);
  let server: TestRedis | undefined;
  let cluster: TestRedisCluster | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    if (!available) return;
    if (opts.cluster) cluster = await startRedisCluster();
    else server = await startRedis();
  }, 60_000);
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  const h = {
    available,
    get url(): string {
      const url = server?.url ?? cluster?.url;
      if (!url) throw new Error('test redis not started');
      return url;
    },
    /** The cluster (with `{ cluster: true }`): its nodes, failover. */
    get cluster(): TestRedisCluster {
      if (!cluster) throw new Error('this harness runs without a cluster');
      return cluster;
    },
    /** The variables that point a process at this file's Redis: REDIS_URL, and REDIS_CLUSTER_NODES on a cluster. */
    get env(): Record<string, string> {
      return cluster ? { REDIS_URL: cluster.url, REDIS_CLUSTER_NODES: cluster.seedNodes } : { REDIS_URL: h.url };
    },
    config(env: Record<string, string> = {}): Config {
      return testConfig(h.url, { ...h.env, ...env }, label);
    },
    /** A client connection closed after the test (a cluster client on a cluster). */
    connection(name = 'test'): RedisClient {
      const r = redisFromConfig(h.config(), { role: 'client', name, logger: silentLogger });
      cleanups.push(() => closeRedis(r));
      return r;
    },
    /** A queue with its own connection, closed after the test. */
    queue(config: Config): BullmqJobQueue {
      const q = new BullmqJobQueue({ config, logger: silentLogger });
      cleanups.push(() => q.close());
      return q;
    },
    /** A real BullMQ worker on the queue; each job waits until complete()/fail() is called for it. */
    async worker(config: Config): Promise<Gate> {
      const waiting = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
      const started: string[] = [];
      let closing = false;
      const connection = redisFromConfig(config, { role: 'worker', name: 'test-worker', logger: silentLogger });
      const worker = new Worker(
        config.QUEUE_NAME,
        async (job: Job) => {
          if (closing) return { ok: true };
          await new Promise<void>((resolve, reject) => {
            waiting.set(job.id!, { resolve, reject });
            started.push(job.id!);
          });
          return { ok: true };
        },
        { connection, prefix: config.QUEUE_PREFIX, concurrency: 1 },
      );
      worker.on('error', () => {});
      await worker.waitUntilReady();
      const finished = (jobId: string) =>
        new Promise<void>((resolve) => {
          const onDone = (job: Job | undefined) => {
            if (job?.id === jobId) {
              worker.off('completed', onDone);
              worker.off('failed', onDone);
              resolve();
            }
          };
          worker.on('completed', onDone);
          worker.on('failed', onDone);
        });
      const gate: Gate = {
        started,
        complete(jobId) {
          const done = finished(jobId);
          waiting.get(jobId)!.resolve();
          return done;
        },
        fail(jobId, message = 'boom') {
          const done = finished(jobId);
          waiting.get(jobId)!.reject(new Error(message));
          return done;
        },
        async waitStarted(n, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          while (started.length < n) {
            if (Date.now() > deadline) throw new Error(`worker started ${started.length} of ${n} jobs`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
        async close() {
          if (closing) return;
          closing = true;
          for (const w of waiting.values()) w.resolve();
          await worker.close();
          await closeRedis(connection);
        },
      };
      cleanups.push(() => gate.close());
      return gate;
    },
  };
  return h;
}

/** Every key under a prefix (SCAN, never KEYS); on a cluster, SCAN on every master. */
export async function keysUnder(redis: RedisClient, prefix: string): Promise<string[]> {
  const nodes: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis];
  const out: string[] = [];
  const pattern = prefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      out.push(...batch);
    } while (cursor !== '0');
  }
  return out.sort();
}
