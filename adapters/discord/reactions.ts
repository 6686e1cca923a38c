/**
 * Emoji reactions on a result message and what they do. The map is configurable
 * (DISCORD_REACTIONS, e.g. `🔁=vary,1️⃣=vary:1,🔍=upscale:1,❌=delete`):
 *   vary[:k]     strong variations of tile k (default 1): a new grid from that image
 *   subtle[:k]   subtle variations of tile k
 *   upscale[:k]  upscale tile k
 *   reseed       the same prompt with a new seed
 *   delete       remove the result (requester only)
 */
import { ConfigError } from '../../src/config.ts';

export type ReactionAction =
  | { action: 'variation'; mode: 'strong' | 'subtle'; index: number }
  | { action: 'upscale'; index: number }
  | { action: 'reseed' }
  | { action: 'delete' };

/** Keyed by the normalised emoji; each entry keeps the emoji as configured, for help text. */
export type ReactionMap = ReadonlyMap<string, ReactionAction & { emoji: string }>;

export const DEFAULT_REACTIONS = '🔁=vary,1️⃣=vary:1,2️⃣=vary:2,3️⃣=vary:3,4️⃣=vary:4,🔍=upscale:1,❌=delete';

/** Emoji as Discord reports them may carry (or lack) the VS16 variation selector; compare without it. */
export function normaliseEmoji(emoji: string): string {
  return emoji.replace(/\uFE0F/g, '').trim();
}

export function parseReactionMap(text: string = DEFAULT_REACTIONS): ReactionMap {
  const map = new Map<string, ReactionAction & { emoji: string }>();
  const bad = (detail: string) => new ConfigError('DISCORD_REACTIONS', `a comma list of emoji=action (vary[:1-4], subtle[:1-4], upscale[:1-4], reseed, delete); ${detail}`);
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.lastIndexOf('=');
    if (eq <= 0) throw bad(`"${entry}" has no "="`);
    const emoji = normaliseEmoji(entry.slice(0, eq));
    const [name, tileText] = entry.slice(eq + 1).trim().split(':');
    const tile = tileText === undefined ? 1 : Number(tileText);
    if (!Number.isInteger(tile) || tile < 1 || tile > 4) throw bad(`"${entry}" names tile ${tileText}`);
    let action: ReactionAction;
    switch (name) {
      case 'vary':
        action = { action: 'variation', mode: 'strong', index: tile - 1 };
        break;
      case 'subtle':
        action = { action: 'variation', mode: 'subtle', index: tile - 1 };
        break;
      case 'upscale':
        action = { action: 'upscale', index: tile - 1 };
        break;
      case 'reseed':
        action = { action: 'reseed' };
        break;
      case 'delete':
        action = { action: 'delete' };
        break;
      default:
        throw bad(`"${name}" is not an action`);
    }
    if (map.has(emoji)) throw bad(`${entry.slice(0, eq)} is listed twice`);
    map.set(emoji, { ...action, emoji: entry.slice(0, eq).trim() });
  }
  return map;
}

export function reactionFor(map: ReactionMap, emojiName: string | null): ReactionAction | undefined {
  const found = emojiName ? map.get(normaliseEmoji(emojiName)) : undefined;
  if (!found) return undefined;
  const { emoji: _emoji, ...action } = found;
  return action;
}

/** One line for /help: what each reaction does. */
export function describeReactions(map: ReactionMap): string {
  const what = (a: ReactionAction) =>
    a.action === 'variation' ? `${a.mode} variations of image ${a.index + 1}` : a.action === 'upscale' ? `upscale image ${a.index + 1}` : a.action === 'reseed' ? 'new seed' : 'remove (requester only)';
  return `Reactions on a result: ${[...map.values()].map((a) => `${a.emoji} ${what(a)}`).join(' · ')}.`;
}
