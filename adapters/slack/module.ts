/**
 * Slack as a platform module: everything the composition root needs to know about it. The bot
 * and the deliverer are imported when started, so a process without SLACK_BOT_TOKEN never loads
 * Bolt.
 */
import type { BotServices } from '../../commands/bot-services.ts';
import type { HttpServerHandle } from '../../src/http-server.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import type { Logger } from '../../src/logger.ts';
import type { PlatformModule } from '../../src/platform.ts';
import { slackEnv, type SlackConfig } from './env.ts';
import { slackCommandRules } from './command-rules.ts';
import { slackSecret } from './secret.ts';

export interface SlackModuleDeps extends BotServices {
  config: SlackConfig;
  /** The process's HTTP server, where HTTP mode mounts /slack/events. */
  http: HttpServerHandle;
}

export interface SlackDelivererDeps {
  config: SlackConfig;
  kv: KeyValueStore;
  logger: Logger;
}

export const slackPlatform: PlatformModule<SlackModuleDeps, SlackDelivererDeps> = {
  name: 'slack',
  chat: true,
  env: slackEnv,
  secret: slackSecret,
  commands: slackCommandRules,
  redaction: {
    // Bolt's option names, and the response_url of slash commands and actions.
    fields: ['responseUrl', 'response_url', 'botToken', 'appToken', 'signingSecret'],
    patterns: [/xox[abposr]-[A-Za-z0-9-]+/g, /xapp-[A-Za-z0-9-]+/g, /https:\/\/hooks\.slack\.com\/[^\s"'\\]+/g],
  },
  configured: (config) => !!config.SLACK_BOT_TOKEN,
  async start(deps) {
    const { createSlackBot } = await import('./bot.ts');
    const bot = createSlackBot(deps, { http: deps.http });
    await bot.start();
    return { label: bot.mode === 'http' ? 'slack (HTTP, /slack/events)' : 'slack (Socket Mode)', stop: () => bot.stop() };
  },
  async deliverer(deps) {
    const { createSlackDeliverer } = await import('./deliver.ts');
    return createSlackDeliverer(deps.config, deps.kv, { logger: deps.logger.child({ platform: 'slack' }) });
  },
};
