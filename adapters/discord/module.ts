/**
 * Discord as a platform module: everything the composition root needs to know about it. The
 * bot and the deliverer are imported when started, so a process without DISCORD_TOKEN never
 * loads discord.js.
 */
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { BotServices } from '../../commands/bot-services.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import type { PlatformModule } from '../../src/platform.ts';
import { discordEnv, type DiscordConfig } from './env.ts';
import { discordCommandRules } from './command-rules.ts';
import { discordSecret } from './secret.ts';

export interface DiscordModuleDeps extends BotServices {
  config: DiscordConfig;
  artifacts: ArtifactStore;
}

export interface DiscordDelivererDeps {
  config: DiscordConfig;
  kv: KeyValueStore;
}

export const discordPlatform: PlatformModule<DiscordModuleDeps, DiscordDelivererDeps> = {
  name: 'discord',
  chat: true,
  env: discordEnv,
  secret: discordSecret,
  redaction: {
    fields: ['interactionToken'],
    patterns: [
      // Bot tokens, and interaction tokens in webhook and callback routes (the route is kept).
      /[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g,
      /(\/webhooks\/\d+\/)[A-Za-z0-9_.-]{20,}/g,
      /(\/interactions\/\d+\/)[A-Za-z0-9_.-]{20,}/g,
    ],
  },
  commands: discordCommandRules,
  configured: (config) => !!config.DISCORD_TOKEN,
  async start(deps) {
    const { startDiscordBot } = await import('./inbound.ts');
    const bot = await startDiscordBot(deps);
    return { label: 'discord', stop: () => bot.stop() };
  },
  async deliverer(deps) {
    const { createDiscordDeliverer } = await import('./deliver.ts');
    return createDiscordDeliverer(deps.config, deps.kv);
  },
};
