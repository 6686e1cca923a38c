/** Who asked and where the answer goes, from a Discord interaction or reaction. */
import type { BaseInteraction, GuildMember, MessageReaction, PartialMessageReaction, PartialUser, User } from 'discord.js';
import type { Origin } from '../../src/jobs.ts';
import type { DiscordOriginData } from './origin-data.ts';

/** Role ids of a member, whether discord.js gave a full GuildMember or the raw API member. */
function roleIdsOf(member: BaseInteraction['member'] | GuildMember | null | undefined): string[] | undefined {
  if (!member) return undefined;
  const roles = (member as GuildMember).roles;
  if (roles && 'cache' in roles) return [...roles.cache.keys()].filter((id) => id !== (member as GuildMember).guild?.id);
  if (Array.isArray(roles)) return roles as string[];
  return undefined;
}

function originData(applicationId: string, member: BaseInteraction['member'] | GuildMember | null | undefined): DiscordOriginData {
  const roleIds = roleIdsOf(member);
  return { applicationId, ...(roleIds ? { roleIds: roleIds.slice(0, 250) } : {}) };
}

export function originFromInteraction(interaction: BaseInteraction): Origin {
  const channel = interaction.channel;
  const inThread = channel?.isThread() ?? false;
  return {
    platform: 'discord',
    ...(interaction.guildId ? { workspaceId: interaction.guildId } : {}),
    // A thread is its own channel on Discord: posting to it is posting to the thread.
    channelId: inThread ? (channel as { parentId: string | null }).parentId ?? interaction.channelId! : interaction.channelId!,
    ...(inThread ? { threadId: interaction.channelId! } : {}),
    userId: interaction.user.id,
    userName: (interaction.user.globalName ?? interaction.user.username).slice(0, 100),
    eventId: interaction.id,
    platformData: originData(interaction.applicationId, interaction.member),
  };
}

/**
 * `dedupeBucket` groups reactions in time: a gateway replay of the same reaction is one job,
 * a deliberate re-react later is another.
 */
export function originFromReaction(
  reaction: MessageReaction | PartialMessageReaction,
  user: User | PartialUser,
  member: GuildMember | null,
  applicationId: string,
  dedupeBucket: number,
): Origin {
  const message = reaction.message;
  const channel = message.channel;
  const inThread = channel?.isThread() ?? false;
  const emoji = reaction.emoji.id ?? reaction.emoji.name ?? '?';
  return {
    platform: 'discord',
    ...(message.guildId ? { workspaceId: message.guildId } : {}),
    channelId: inThread ? (channel as { parentId: string | null }).parentId ?? message.channelId : message.channelId,
    ...(inThread ? { threadId: message.channelId } : {}),
    userId: user.id,
    ...(user.username ? { userName: (user.globalName ?? user.username).slice(0, 100) } : {}),
    eventId: `reaction:${message.id}:${user.id}:${emoji.slice(0, 32)}:${dedupeBucket}`,
    platformData: originData(applicationId, member),
  };
}
