/**
 * The deliverers a bot-side process builds from its environment: one per platform whose bot
 * token is set. Imported lazily so a Slack-only bot never loads discord.js and vice versa.
 */
import type { Config } from '../config.ts';
import type { Deliverer } from '../delivery.ts';
import type { KeyValueStore } from '../kv.ts';
import type { Logger } from '../logger.ts';

export async function platformDeliverers(config: Config, kv: KeyValueStore, logger: Logger): Promise<Deliverer[]> {
  const out: Deliverer[] = [];
  if (config.DISCORD_TOKEN) {
    const { createDiscordDeliverer } = await import('../../adapters/discord/deliver.ts');
    out.push(createDiscordDeliverer(config, kv));
  }
  if (config.SLACK_BOT_TOKEN) {
    const { createSlackDeliverer } = await import('../../adapters/slack/deliver.ts');
    out.push(createSlackDeliverer(config, kv, { logger: logger.child({ platform: 'slack' }) }));
  }
  return out;
}

/** The platform credentials a process was given; a worker names them in its "ignored" warning. */
export const PLATFORM_VARIABLES = ['DISCORD_TOKEN', 'DISCORD_APP_ID', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN'] as const;

export function platformVariablesSet(config: Pick<Config, (typeof PLATFORM_VARIABLES)[number]>): string[] {
  return PLATFORM_VARIABLES.filter((name) => config[name] !== undefined && config[name] !== '');
}
