/**
 * Everything a Discord end-to-end test runs against: a private Redis, the loopback fake
 * Discord, a worker child process without any platform variable, and the bot side in the test
 * process: the real discord.js client, and the delivery side posting through the real Discord
 * deliverer what the worker stored.
 */
import { pino } from 'pino';
import { startDiscordBot, type DiscordBot } from '../../adapters/discord/inbound.ts';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { tokenCounter } from '../../src/root/token-counter.ts';
import { stackView, startE2eStack, type StackView } from './e2e-stack.ts';
import { FakeDiscord, type FakeMessage } from './fake-discord.ts';

export interface DiscordHarness extends StackView {
  fake: FakeDiscord;
  bot: DiscordBot;
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
    ...stackView(stack),
    fake,
    bot: undefined as unknown as DiscordBot,
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
