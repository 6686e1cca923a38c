/**
 * What every chat end-to-end test runs on, whatever the platform: a private Redis, the model
 * (the embedded one when it is complete, else a random-weight stand-in in the same layout),
 * one environment that the bot in the test process and a worker child process both read (the
 * worker's without any platform variable: a worker holds no platform secret), the queue and
 * stores the bot uses, the bot role's delivery side (the real platform deliverers, fed by the
 * delivery queue), and the worker started exactly as `npm run worker` starts it.
 * The platform harnesses add their fake platform and their bot on top.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { loadConfig, type AppConfig } from '../../src/root/config.ts';
import { startDeliverySide, type DeliverySide } from '../../src/delivery-side.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { PLATFORM_VARIABLES, platformDeliverers } from '../../src/root/platforms.ts';
import { MemoryWebEventHub } from '../../adapters/web/events.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import type { Logger } from '../../src/logger.ts';
import { loadModelCatalog, type ModelCatalog } from '../../src/models.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { closeRedis, createRedis } from '../../src/redis.ts';
import { ResultStore } from '../../src/results.ts';
import type { JobResult, Platform } from '../../src/jobs.ts';
import { REPO_ROOT } from '../../kit/app-process.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';
import { startRedis, type TestRedis } from '../../kit/redis-server.ts';
import { TINY_MODEL_DIR } from './tiny-model-check.ts';
import { writeTinyModel } from '../../kit/tiny-sd-models.ts';

/** The embedded model when it is complete; otherwise a tiny random-weight model in the same layout. */
export function modelEnv(dir: string, label = 'e2e'): { env: Record<string, string>; embedded: boolean } {
  try {
    loadModelCatalog({ MODEL_DIR: TINY_MODEL_DIR, MODELS_CONFIG: undefined });
    return { env: { MODEL_DIR: TINY_MODEL_DIR }, embedded: true };
  } catch {
    console.warn(`[${label}] models/tiny is not a complete model folder yet: using a random-weight test model, image content is not checked`);
    const modelDir = writeTinyModel(dir, { name: 'tiny', idsDtype: 'int32', timestep: 'int64-batch', scalingFactor: 0.18215, withVaeEncoder: true });
    const configFile = path.join(dir, 'models.json');
    writeFileSync(configFile, JSON.stringify({ models: [{ name: 'tiny', dir: modelDir, baseSize: 64, sizeMultiple: 8, defaultSteps: 4, defaultSampler: 'euler', defaultGuidance: 7 }] }));
    return { env: { MODELS_CONFIG: configFile }, embedded: false };
  }
}

/** A worker's environment: no platform variable (token, secret, app id, API address) reaches it. */
export function workerEnvironment(env: Record<string, string | undefined>): Record<string, string> {
  const isPlatform = (name: string) => (PLATFORM_VARIABLES as readonly string[]).includes(name) || /^(DISCORD|SLACK)_/.test(name);
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && !isPlatform(e[0])));
}

/**
 * The worker process as `npm run worker` starts it, without any platform variable; it logs at
 * info so its start-up line says when it consumes.
 */
export function spawnWorker(env: Record<string, string>, log: string[]): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/root/main.ts'), '--role=worker'], {
    cwd: REPO_ROOT,
    env: workerEnvironment({ ...process.env, ...env, LOG_LEVEL: process.env.E2E_LOG ?? 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    // The line may arrive split across chunks.
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      log.push(d.toString());
      buffered += d.toString();
      if (buffered.includes('"msg":"worker started"')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${log.join('').slice(-3000)}`)));
  });
  return { child, ready };
}

/** SIGTERM (the worker finishes what it holds), then SIGKILL if it has not exited within 10 s. */
export async function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export interface E2eStackOptions {
  /** Names the temporary folder, the queue prefix and the Redis client; says which test warned. */
  label: string;
  /** The platform's variables (tokens, API URLs), known once its fake runs. */
  platformEnv: Record<string, string>;
  /** LOG_LEVEL for the bot's side. */
  logLevel: string;
  /** Anything a test changes; wins over everything else. */
  env?: Record<string, string>;
  /** Start a worker process (default true); without one, jobs stay queued. */
  worker?: boolean;
  logger?: Logger;
}

export interface E2eStack {
  dir: string;
  redis: TestRedis;
  env: Record<string, string>;
  config: AppConfig;
  redisClient: Redis;
  kv: RedisKeyValueStore;
  queue: BullmqJobQueue;
  results: ResultStore;
  models: ModelCatalog;
  /** Whether the embedded demo model draws the images (so their content can be checked). */
  embeddedModel: boolean;
  /** The bot role's delivery side (posts what the worker stored). */
  delivery: DeliverySide;
  /** The worker process, when the stack started one. */
  worker: ChildProcess | null;
  workerLog: string[];
  /** Resolves once the worker consumes (at once without a worker). */
  workerReady: Promise<void>;
  /** Stops the worker, then closes the queue, the Redis connection and the Redis server. */
  close(): Promise<void>;
}

/** What a platform harness passes on to its tests from the stack under it. */
export type StackView = Pick<E2eStack, 'redis' | 'env' | 'config' | 'queue' | 'results' | 'kv' | 'models' | 'embeddedModel' | 'worker' | 'workerLog'>;

export function stackView(s: E2eStack): StackView {
  return { redis: s.redis, env: s.env, config: s.config, queue: s.queue, results: s.results, kv: s.kv, models: s.models, embeddedModel: s.embeddedModel, worker: s.worker, workerLog: s.workerLog };
}

export async function startE2eStack(opts: E2eStackOptions): Promise<E2eStack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${opts.label}-`));
  const redis = await startRedis();
  const model = modelEnv(dir, opts.label);
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix(opts.label),
    ...opts.platformEnv,
    ARTIFACT_DIR: path.join(dir, 'artifacts'),
    PROGRESS_INTERVAL_MS: '5',
    PROGRESS_PREVIEW: 'off',
    ORT_THREADS: '1',
    WORKER_BATCHING: 'off',
    LOG_LEVEL: opts.logLevel,
    PORT: '0',
    ...model.env,
    ...opts.env,
  };
  const config = loadConfig(env);
  const redisClient = createRedis(redis.url, { role: 'client', name: opts.label, ...(opts.logger ? { logger: opts.logger } : {}) });
  const kv = RedisKeyValueStore.fromConfig(redisClient, config);
  const queue = new BullmqJobQueue({ config, redis: redisClient, ...(opts.logger ? { logger: opts.logger } : {}) });

  const delivery = await startDeliverySide({
    config,
    deliverers: await platformDeliverers({ config, kv, logger: opts.logger ?? createLogger({ level: 'silent' }), hub: new MemoryWebEventHub() }),
    kv,
    artifacts: new FsArtifactStore(config.ARTIFACT_DIR),
    metrics: createMetrics(),
    logger: opts.logger ?? createLogger({ level: 'silent' }),
    redis: redisClient,
  });

  const workerLog: string[] = [];
  const worker = opts.worker === false ? null : spawnWorker(env, workerLog);
  return {
    dir,
    redis,
    env,
    config,
    redisClient,
    kv,
    queue,
    results: new ResultStore(kv),
    models: loadModelCatalog(config),
    embeddedModel: model.embedded,
    delivery,
    worker: worker?.child ?? null,
    workerLog,
    workerReady: worker?.ready ?? Promise.resolve(),
    async close() {
      await stopChild(worker?.child ?? null);
      await delivery.close();
      await queue.close();
      await closeRedis(redisClient);
      await redis.stop();
    },
  };
}

/** The stored result a chat message shows: the delivery side indexes it by message id right after posting, so this waits for that. */
export async function storedResultFor(results: ResultStore, platform: Platform, messageId: string, timeoutMs = 20_000): Promise<JobResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await results.getByMessage(platform, messageId);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no stored result for ${platform} message ${messageId}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
