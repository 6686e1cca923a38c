/**
 * Emoji reactions on a Discord result (DISCORD_REACTIONS, Unicode emoji, e.g.
 * `🔁=vary,1️⃣=vary:1,🔍=upscale:1,❌=delete`), in the vocabulary of commands/reaction-map.ts.
 */
import { describeReactions, parseReactionMap, type ReactionMap, type ReactionSyntax } from '../../commands/reaction-map.ts';

export const DEFAULT_REACTIONS = '🔁=vary,1️⃣=vary:1,2️⃣=vary:2,3️⃣=vary:3,4️⃣=vary:4,🔍=upscale:1,❌=delete';

/** Emoji as Discord reports them may carry (or lack) the VS16 variation selector; compare without it. */
export function normaliseEmoji(emoji: string): string {
  return emoji.replace(/\uFE0F/g, '').trim();
}

const DISCORD_SYNTAX: ReactionSyntax = {
  variable: 'DISCORD_REACTIONS',
  emojiHelp: 'emoji as Unicode characters',
  configuredKey: (written) => normaliseEmoji(written) || null,
  reportedKey: normaliseEmoji,
};

export function parseDiscordReactions(text: string = DEFAULT_REACTIONS): ReactionMap {
  return parseReactionMap(text, DISCORD_SYNTAX);
}

/** The line /help ends with. */
export function describeDiscordReactions(map: ReactionMap): string | null {
  return describeReactions(map, (entry) => entry.emoji);
}
