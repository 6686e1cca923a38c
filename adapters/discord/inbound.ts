/**
 * The Discord bot: a discord.js Client on the gateway (intents Guilds, GuildMessages and
 * GuildMessageReactions; no privileged intents; partials so reactions on uncached messages
 * arrive), slash command registration at start, and routing of interactions and reactions to
 * their handlers. It only enqueues: images are made and posted by the workers.
 */
import { Client, Events, GatewayIntentBits, MessageFlags, Partials, type Interaction } from 'discord.js';
import { limitsFromConfig } from '../../commands/context.ts';
import { jobPayloadLookup } from '../../commands/bot-services.ts';
import { ConfigError } from '../../src/config.ts';
import { EditLinks } from '../../src/edit-links.ts';
import type { BotRuntime, DiscordBotDeps } from './bot-context.ts';
import { handleButton } from './button-press.ts';
import { handleModalSubmit } from './edit-press.ts';
import { handleImagine } from './imagine-command.ts';
import { handleCancel, handleHelp, handleQueue } from './queue-commands.ts';
import { inviteUrl } from './permissions.ts';
import { handleReactionAdd } from './reaction-add.ts';
import { parseDiscordReactions } from './reactions.ts';
import { replaceWithEphemeral } from './replies.ts';
import { discordRestOptions, DEFAULT_REST_LIMITS, type DiscordRestLimits } from './rest.ts';
import { aspectChoices, buildSlashCommands, modelChoices, registerSlashCommands } from './slash-commands.ts';
import { discordCommandRules } from './command-rules.ts';

export const BOT_INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions] as const;
export const BOT_PARTIALS = [Partials.Message, Partials.Reaction, Partials.Channel, Partials.User, Partials.GuildMember] as const;

const SOMETHING_WENT_WRONG = 'Something went wrong on our side; please try again in a moment.';

export interface DiscordBot {
  client: Client;
  stop(): Promise<void>;
}

export interface DiscordBotOptions {
  restLimits?: DiscordRestLimits;
  /** How long to wait for the gateway's READY before giving up on start. */
  readyTimeoutMs?: number;
}

export function createDiscordClient(apiUrl: string, limits: DiscordRestLimits = DEFAULT_REST_LIMITS): Client {
  return new Client({
    intents: [...BOT_INTENTS],
    partials: [...BOT_PARTIALS],
    rest: discordRestOptions(apiUrl, limits),
  });
}

async function routeInteraction(rt: BotRuntime, interaction: Interaction): Promise<void> {
  if (interaction.isAutocomplete()) {
    const focused = interaction.options.getFocused(true);
    const choices = focused.name === 'aspect' ? aspectChoices(String(focused.value)) : focused.name === 'model' ? modelChoices(rt.models.names(), String(focused.value)) : [];
    await interaction.respond(choices);
    return;
  }
  if (interaction.isChatInputCommand()) {
    switch (interaction.commandName) {
      case 'imagine':
        return handleImagine(rt, interaction);
      case 'cancel':
        return handleCancel(rt, interaction);
      case 'queue':
        return handleQueue(rt, interaction);
      case 'help':
        return handleHelp(rt, interaction);
      default:
        await interaction.reply({ content: 'This command is not known to this bot.', flags: MessageFlags.Ephemeral });
        return;
    }
  }
  if (interaction.isButton()) return handleButton(rt, interaction);
  if (interaction.isModalSubmit()) return handleModalSubmit(rt, interaction);
}

export async function startDiscordBot(deps: DiscordBotDeps, opts: DiscordBotOptions = {}): Promise<DiscordBot> {
  const { config, logger } = deps;
  if (!config.DISCORD_TOKEN || !config.DISCORD_APP_ID) throw new ConfigError('DISCORD_TOKEN', 'required (with DISCORD_APP_ID) to run the Discord bot');
  const applicationId = config.DISCORD_APP_ID;
  const rt: BotRuntime = {
    ...deps,
    jobPayload: deps.jobPayload ?? jobPayloadLookup(deps.queue),
    limits: limitsFromConfig(config),
    platformRules: discordCommandRules,
    reactions: parseDiscordReactions(config.DISCORD_REACTIONS ?? undefined),
    editLinks: config.PUBLIC_URL ? await EditLinks.load(deps.kv) : null,
  };
  const client = createDiscordClient(config.DISCORD_API_URL, opts.restLimits);
  const log = logger.child({ component: 'discord' });

  client.on(Events.InteractionCreate, (interaction) => {
    routeInteraction(rt, interaction).catch(async (err: unknown) => {
      log.error({ err: { message: (err as Error).message, code: (err as { code?: unknown }).code }, interactionId: interaction.id }, 'discord interaction failed');
      if (interaction.isRepliable()) await replaceWithEphemeral(interaction, SOMETHING_WENT_WRONG).catch(() => undefined);
    });
  });
  client.on(Events.MessageReactionAdd, (reaction, user) => {
    handleReactionAdd(rt, reaction, user, applicationId).catch((err: unknown) => {
      log.error({ err: { message: (err as Error).message }, messageId: reaction.message.id }, 'discord reaction failed');
    });
  });
  client.on(Events.Error, (err) => log.error({ err: { message: err.message } }, 'discord client error'));
  client.on(Events.ShardDisconnect, (event, shardId) => log.warn({ code: event.code, shardId }, 'discord gateway disconnected'));

  await registerSlashCommands(client.rest.setToken(config.DISCORD_TOKEN), applicationId, config.DISCORD_GUILD_IDS, buildSlashCommands(rt.limits));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the Discord gateway did not become ready in time')), opts.readyTimeoutMs ?? 60_000);
    client.once(Events.ClientReady, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await client.login(config.DISCORD_TOKEN);
  await ready;
  // The invite with the permissions from permissions.ts, for adding the bot to another server.
  log.info({ guilds: client.guilds.cache.size, commandScope: config.DISCORD_GUILD_IDS.length ? 'guild' : 'global', invite: inviteUrl(applicationId) }, 'discord bot ready');

  return {
    client,
    stop: async () => {
      client.removeAllListeners();
      await client.destroy();
    },
  };
}
