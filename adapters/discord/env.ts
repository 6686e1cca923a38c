/** Discord's variables in the environment schema (joined into the one schema by the composition root). */
import { z } from 'zod';
import { commaList, optionalString, url, type Config, type PlatformEnvPart } from '../../src/config.ts';

const snowflake = z.string().regex(/^\d{5,25}$/, { error: 'a numeric Discord id (snowflake)' });

const shape = {
  DISCORD_TOKEN: optionalString,
  DISCORD_APP_ID: snowflake.optional(),
  DISCORD_API_URL: url('the Discord REST base without version', 'https://discord.com/api').default('https://discord.com/api'),
  DISCORD_GUILD_IDS: commaList.pipe(z.array(snowflake)),
  /** Reaction emoji -> action on result messages (grammar in adapters/discord/reactions.ts); unset = the default map. */
  DISCORD_REACTIONS: optionalString,
};

export type DiscordEnv = z.output<z.ZodObject<typeof shape>>;
/** What Discord's code reads: the shared configuration and Discord's part. */
export type DiscordConfig = Config & DiscordEnv;

export const discordEnv: PlatformEnvPart<typeof shape> = {
  shape,
  secretNames: ['DISCORD_TOKEN'],
  credentialNames: ['DISCORD_TOKEN', 'DISCORD_APP_ID'],
  check(env, need) {
    need(!!env.DISCORD_TOKEN && !env.DISCORD_APP_ID, 'DISCORD_APP_ID', 'required when DISCORD_TOKEN is set (the application id from the Discord developer portal)');
    need(!!env.DISCORD_APP_ID && !env.DISCORD_TOKEN, 'DISCORD_TOKEN', 'required when DISCORD_APP_ID is set (the bot token)');
  },
};
