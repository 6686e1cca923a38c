/**
 * Emoji reactions on a Slack result and what they do (SLACK_REACTIONS, Slack emoji names, e.g.
 * `repeat=vary,one=vary:1,mag=upscale:1,x=delete`), with the same action words as Discord's map:
 *   vary[:k]     strong variations of image k (default 1): a new set from that image
 *   subtle[:k]   subtle variations of image k
 *   upscale[:k]  upscale image k
 *   reseed       the same prompt with a new seed
 *   delete       remove the result (requester only)
 * The first entry is the one the bot adds to its own results, so people can start it with one click.
 */
import { ConfigError } from '../../src/config.ts';

export type ReactionAction =
  | { action: 'variation'; mode: 'strong' | 'subtle'; index: number }
  | { action: 'upscale'; index: number }
  | { action: 'reseed' }
  | { action: 'delete' };

export interface ReactionMap {
  /** Emoji names in the order configured (the first is the hint the bot adds). */
  readonly emoji: readonly string[];
  get(emoji: string): ReactionAction | undefined;
}

export const DEFAULT_SLACK_REACTIONS = 'repeat=vary,one=vary:1,two=vary:2,three=vary:3,four=vary:4,arrows_counterclockwise=reseed,mag=upscale:1';

/** Slack reports skin-toned reactions as `name::skin-tone-N`; the map is keyed by the base name. */
export function baseEmojiName(name: string): string {
  return name.replace(/::skin-tone-\d$/, '').trim();
}

export function parseReactionMap(text: string = DEFAULT_SLACK_REACTIONS): ReactionMap {
  const map = new Map<string, ReactionAction>();
  const bad = (detail: string) =>
    new ConfigError('SLACK_REACTIONS', `a comma list of emoji=action with Slack emoji names and actions vary[:1-4], subtle[:1-4], upscale[:1-4], reseed, delete; ${detail}`);
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const m = /^:?([a-z0-9_+'-]+):?\s*=\s*([a-z]+)(?::(\S+))?$/.exec(entry);
    if (!m) throw bad(`"${entry}" is not emoji=action`);
    const [, emoji, name, tileText] = m;
    const tile = tileText === undefined ? 1 : Number(tileText);
    if (!Number.isInteger(tile) || tile < 1 || tile > 4) throw bad(`"${entry}" names image ${tileText}`);
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
      case 'delete':
        if (tileText !== undefined) throw bad(`${name} applies to the whole result, so "${entry}" cannot name an image`);
        action = { action: name };
        break;
      default:
        throw bad(`"${name}" is not an action`);
    }
    if (map.has(emoji)) throw bad(`${emoji} is listed twice`);
    map.set(emoji, action);
  }
  return { emoji: [...map.keys()], get: (emoji) => map.get(baseEmojiName(emoji)) };
}
