/**
 * The deliverers a worker process builds from its environment: one per platform whose bot
 * token is set. Imported lazily so a Slack-only worker never loads discord.js and vice versa.
 */
import type { Config } from './config.ts';
import type { Deliverer } from './delivery.ts';
import type { KeyValueStore } from './kv.ts';
import type { Logger } from './logger.ts';

export async function platformDeliverers(config: Config, kv: KeyValueStore, logger: Logger): Promise<Deliverer[]> {
  const out: Deliverer[] = [];
  if (config.DISCORD_TOKEN) {
    const { createDiscordDeliverer } = await import('../adapters/discord/deliver.ts');
    out.push(createDiscordDeliverer(config, kv));
  }
  if (config.SLACK_BOT_TOKEN) {
    const { createSlackDeliverer } = await import('../adapters/slack/deliver.ts');
    out.push(createSlackDeliverer(config, kv, { logger: logger.child({ platform: 'slack' }) }));
  }
  return out;
}
