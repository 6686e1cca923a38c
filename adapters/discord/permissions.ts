/**
 * The bot permissions the invite asks for: one list, each with the code that needs it, from
 * which the permission integer and the invite URL are derived (the README quotes them; a test
 * holds the two together). Nothing here is asked for that the adapter never does: it creates
 * no threads and adds no reactions of its own (it only reads users' reactions, which needs no
 * permission beyond seeing the channel).
 */
import { PermissionFlagsBits } from 'discord.js';

export const BOT_PERMISSIONS = [
  { flag: 'ViewChannel', name: 'View Channels', why: 'see the channels it is used in, and read whether a channel is NSFW' },
  { flag: 'SendMessages', name: 'Send Messages', why: 'post results and status messages after the interaction token expires, and for reactions' },
  { flag: 'SendMessagesInThreads', name: 'Send Messages in Threads', why: 'the same when /imagine is used in a thread, where results go' },
  { flag: 'AttachFiles', name: 'Attach Files', why: 'upload the image grid and progress previews' },
  { flag: 'ReadMessageHistory', name: 'Read Message History', why: 'a job started by a reaction is announced as a reply to that result (message_reference)' },
] as const satisfies ReadonlyArray<{ flag: keyof typeof PermissionFlagsBits; name: string; why: string }>;

/** The permission integer of BOT_PERMISSIONS, as the OAuth2 URL takes it. */
export function botPermissionBits(): bigint {
  return BOT_PERMISSIONS.reduce((bits, p) => bits | PermissionFlagsBits[p.flag], 0n);
}

/** The invite with the scopes the bot needs: `bot` for the gateway and `applications.commands` for its slash commands. */
export function inviteUrl(applicationId: string): string {
  return `https://discord.com/oauth2/authorize?client_id=${applicationId}&scope=bot%20applications.commands&permissions=${botPermissionBits()}`;
}
