/** Slack's variables in the environment schema (joined into the one schema by the composition root). */
import { z } from 'zod';
import { optionalString, url, type Config, type PlatformEnvPart } from '../../src/config.ts';

const shape = {
  SLACK_BOT_TOKEN: z.string().regex(/^xoxb-\S+$/, { error: 'a Slack bot token starting with xoxb-' }).optional(),
  SLACK_SIGNING_SECRET: z.string().regex(/^\S{8,}$/, { error: 'the Slack app signing secret' }).optional(),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-\S+$/, { error: 'a Slack app-level token starting with xapp-' }).optional(),
  SLACK_API_URL: url('the Slack Web API base', 'https://slack.com/api/').default('https://slack.com/api/'),
  SLACK_REACTIONS: optionalString,
};

export type SlackEnv = z.output<z.ZodObject<typeof shape>>;
/** What Slack's code reads: the shared configuration and Slack's part. */
export type SlackConfig = Config & SlackEnv;

export const slackEnv: PlatformEnvPart<typeof shape> = {
  shape,
  secretNames: ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN'],
  credentialNames: ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN'],
  check(env, need) {
    need(
      !!env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN,
      'SLACK_SIGNING_SECRET',
      'required when SLACK_BOT_TOKEN is set (or set SLACK_APP_TOKEN for Socket Mode)',
    );
    need(
      !env.SLACK_BOT_TOKEN && (!!env.SLACK_SIGNING_SECRET || !!env.SLACK_APP_TOKEN),
      'SLACK_BOT_TOKEN',
      'required when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set (the xoxb- bot token)',
    );
  },
};
