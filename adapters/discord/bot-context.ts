/** What the Discord bot needs from the process, and what it derives from it once at start. */
import type { CommandLimits } from '../../commands/context.ts';
import type { ReactionMap } from '../../commands/reaction-map.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { BotServices } from '../../commands/bot-services.ts';
import type { DiscordConfig } from './env.ts';
import type { EditLinks } from '../../src/edit-links.ts';
import type { PlatformCommandRules } from '../../src/platform.ts';

export interface DiscordBotDeps extends BotServices {
  config: Pick<DiscordConfig, 'DISCORD_TOKEN' | 'DISCORD_APP_ID' | 'DISCORD_API_URL' | 'DISCORD_GUILD_IDS' | 'DISCORD_REACTIONS' | 'PUBLIC_URL' | 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY'>;
  /** Where an attached start image is stored for the worker. */
  artifacts: ArtifactStore;
}

export interface BotRuntime extends DiscordBotDeps {
  limits: CommandLimits;
  platformRules: PlatformCommandRules;
  reactions: ReactionMap;
  /** Links to the region editor; null without PUBLIC_URL (Vary (Region) is then hidden). */
  editLinks: EditLinks | null;
}
