/**
 * Everything a Discord end-to-end test runs against: a private Redis, the loopback fake
 * Discord, a worker child process that delivers through the real Discord deliverer, and the
 * bot (the real discord.js client) in the test process, all sharing one environment.
 */
import type { ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { startDiscordBot, type DiscordBot } from '../../adapters/discord/inbound.ts';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import type { Config } from '../../src/config.ts';
import type { RedisKeyValueStore } from '../../src/kv-redis.ts';
import type { ModelCatalog } from '../../src/models.ts';
import type { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import type { ResultStore } from '../../src/results.ts';
import { tokenCounter } from '../../src/token-counter.ts';
import { startE2eStack } from './e2e-stack.ts';
import { FakeDiscord, type FakeMessage } from './fake-discord.ts';
import type { TestRedis } from './redis-server.ts';

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

export async function startDiscordHarness(opts: HarnessOptions = {}): Promise<DiscordHarness> {
  const fake = await FakeDiscord.start();
  const stack = await startE2eStack({
    label: 'discord-e2e',
    platformEnv: { DISCORD_TOKEN: fake.token, DISCORD_APP_ID: fake.applicationId, DISCORD_API_URL: fake.apiUrl, DISCORD_GUILD_IDS: fake.guildId },
    logLevel: 'warn',
    env: opts.env,
    worker: opts.worker,
  });
  const { config, queue, results, kv, models } = stack;
  const deps = {
    config,
    queue,
    results,
    kv,
    artifacts: new FsArtifactStore(config.ARTIFACT_DIR),
    models,
    countTokens: tokenCounter(),
    logger: pino({ level: 'warn' }),
  };
  const harness: DiscordHarness = {
    fake,
    redis: stack.redis,
    env: stack.env,
    config,
    queue,
    results,
    kv,
    models,
    embeddedModel: stack.embeddedModel,
    bot: undefined as unknown as DiscordBot,
    worker: stack.worker,
    workerLog: stack.workerLog,
    async startBot() {
      harness.bot = await startDiscordBot(deps, { readyTimeoutMs: 20_000 });
      return harness.bot;
    },
    async stopBot() {
      await harness.bot.stop();
    },
    async close() {
      await harness.bot?.stop().catch(() => undefined);
      await stack.close();
      await fake.close();
    },
  };
  await harness.startBot();
  await stack.workerReady;
  return harness;
}

/** The message that shows a result: it carries the generated image. */
export function hasResult(message: FakeMessage | undefined): FakeMessage | undefined {
  return message && !message.deleted && message.files.some((f) => f.name.includes('imagine-')) ? message : undefined;
}
