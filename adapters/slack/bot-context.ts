/** What the Slack bot needs from the process, and what it derives from it once at start. */
import type { CommandLimits } from '../../commands/context.ts';
import type { ReactionMap } from '../../commands/reaction-map.ts';
import type { BotServices } from '../../commands/bot-services.ts';
import type { SlackConfig } from './env.ts';
import type { EditLinks } from '../../src/edit-links.ts';
import type { PlatformCommandRules } from '../../src/platform.ts';
import type { ResponseUrlReplies } from './response-url.ts';
import type { SlackApi } from './slack-api.ts';

export type SlackBotConfig = Pick<SlackConfig,
  'SLACK_BOT_TOKEN' | 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN' | 'SLACK_API_URL' | 'SLACK_REACTIONS' | 'PUBLIC_URL' | 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY'
>;

/** The key-value store also holds Slack's status holds, event dedupe, pacing and response_url budgets. */
export interface SlackBotDeps extends BotServices {
  config: SlackBotConfig;
}

export interface SlackRuntime extends SlackBotDeps {
  limits: CommandLimits;
  platformRules: PlatformCommandRules;
  reactions: ReactionMap;
  api: SlackApi;
  responses: ResponseUrlReplies;
  /** Links to the region editor; null without PUBLIC_URL (Vary (Region) is then hidden). */
  editLinks: EditLinks | null;
}
