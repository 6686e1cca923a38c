/**
 * Everything a Discord end-to-end test runs against: a private Redis, the loopback fake
 * Discord, a worker child process that delivers through the real Discord deliverer, and the
 * bot (the real discord.js client) in the test process, all sharing one environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startDiscordBot, type DiscordBot } from '../../adapters/discord/inbound.ts';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { loadModelCatalog, type ModelCatalog } from '../../src/models.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { closeRedis, createRedis } from '../../src/redis.ts';
import { ResultStore } from '../../src/results.ts';
import { tokenCounter } from '../../src/token-counter.ts';
import { FakeDiscord, type FakeMessage } from './fake-discord.ts';
import { uniquePrefix } from './queue-prefix.ts';
import { startRedis, type TestRedis } from './redis-server.ts';
import { TINY_MODEL_DIR } from './tiny-model-check.ts';
import { writeTinyModel } from './tiny-sd-models.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface DiscordHarness {
  fake: FakeDiscord;
  redis: TestRedis;
  env: Record<string, string>;
  config: Config;
  queue: BullmqJobQueue;
  results: ResultStore;
  kv: RedisKeyValueStore;
  models: ModelCatalog;
  /** Whether the embedded demo model drew the images (so their content can be checked). */
  embeddedModel: boolean;
  bot: DiscordBot;
  /** The worker process, when the harness started one. */
  worker: ChildProcess | null;
  workerLog: string[];
  startBot(): Promise<DiscordBot>;
  stopBot(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  /** Start a worker process (default true); without one, jobs stay queued. */
  worker?: boolean;
}

/** The embedded model when it is there; otherwise a tiny random-weight model in the same layout. */
function modelEnv(dir: string): { env: Record<string, string>; embedded: boolean } {
  try {
    loadModelCatalog({ MODEL_DIR: TINY_MODEL_DIR, MODELS_CONFIG: undefined });
    return { env: { MODEL_DIR: TINY_MODEL_DIR }, embedded: true };
  } catch {
    console.warn('[discord e2e] models/tiny is not a complete model folder yet: using a random-weight test model, image content is not checked');
    const modelDir = writeTinyModel(dir, { name: 'tiny', idsDtype: 'int32', timestep: 'int64-batch', scalingFactor: 0.18215 });
    const configFile = path.join(dir, 'models.json');
    writeFileSync(configFile, JSON.stringify({ models: [{ name: 'tiny', dir: modelDir, baseSize: 64, sizeMultiple: 8, defaultSteps: 4, defaultSampler: 'euler', defaultGuidance: 7 }] }));
    return { env: { MODELS_CONFIG: configFile }, embedded: false };
  }
}

/** The worker process exactly as `npm run worker` starts it; info logs tell when it consumes. */
function spawnWorker(env: Record<string, string>, log: string[]): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), '--role=worker'], {
    cwd: ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: process.env.E2E_LOG ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      log.push(d.toString());
      if (d.toString().includes('"msg":"worker started"')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${log.join('').slice(-3000)}`)));
  });
  return { child, ready };
}

export async function startDiscordHarness(opts: HarnessOptions = {}): Promise<DiscordHarness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'discord-e2e-'));
  const redis = await startRedis();
  const fake = await FakeDiscord.start();
  const model = modelEnv(dir);
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix('discord'),
    DISCORD_TOKEN: fake.token,
    DISCORD_APP_ID: fake.applicationId,
    DISCORD_API_URL: fake.apiUrl,
    DISCORD_GUILD_IDS: fake.guildId,
    ARTIFACT_DIR: path.join(dir, 'artifacts'),
    PROGRESS_INTERVAL_MS: '5',
    PROGRESS_PREVIEW: 'off',
    ORT_THREADS: '1',
    WORKER_BATCHING: 'off',
    LOG_LEVEL: 'warn',
    PORT: '0',
    ...model.env,
    ...opts.env,
  };
  const config = loadConfig(env);
  const redisClient = createRedis(redis.url, { role: 'client', name: 'discord-e2e' });
  const kv = RedisKeyValueStore.fromConfig(redisClient, config);
  const queue = new BullmqJobQueue({ config, redis: redisClient });
  const results = new ResultStore(kv);
  const models = loadModelCatalog(config);
  const artifacts = new FsArtifactStore(config.ARTIFACT_DIR);
  const logger = pino({ level: 'warn' });

  const workerLog: string[] = [];
  const worker = opts.worker === false ? null : spawnWorker(env, workerLog);

  const deps = {
    config,
    queue,
    results,
    kv,
    artifacts,
    models,
    countTokens: tokenCounter(),
    logger,
  };
  const harness: DiscordHarness = {
    fake,
    redis,
    env,
    config,
    queue,
    results,
    kv,
    models,
    embeddedModel: model.embedded,
    bot: undefined as unknown as DiscordBot,
    worker: worker?.child ?? null,
    workerLog,
    async startBot() {
      harness.bot = await startDiscordBot(deps, { readyTimeoutMs: 20_000 });
      return harness.bot;
    },
    async stopBot() {
      await harness.bot.stop();
    },
    async close() {
      await harness.bot?.stop().catch(() => undefined);
      const child = worker?.child;
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await queue.close();
      await closeRedis(redisClient);
      await fake.close();
      await redis.stop();
    },
  };
  await harness.startBot();
  await worker?.ready;
  return harness;
}

/** The message that shows a result: it carries the generated image. */
export function hasResult(message: FakeMessage | undefined): FakeMessage | undefined {
  return message && !message.deleted && message.files.some((f) => f.name.includes('imagine-')) ? message : undefined;
}
