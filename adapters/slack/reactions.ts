/**
 * Which emoji reactions on a result start a job (SLACK_REACTIONS): `emoji=action[:image]`,
 * image 1-4 (default 1). The first entry is the one the bot adds to its own results, so
 * people can start it with one click.
 */
import type { ImageAction, WholeResultAction } from '../../src/actions.ts';

export type ReactionAction =
  | { action: Extract<ImageAction, 'variation' | 'vary-subtle' | 'vary-strong' | 'upscale'>; index: number }
  | { action: Extract<WholeResultAction, 'reseed'> };

export interface ReactionMap {
  /** Emoji names in the order configured (the first is the hint the bot adds). */
  readonly emoji: readonly string[];
  get(emoji: string): ReactionAction | undefined;
}

const ACTIONS = new Set(['variation', 'vary-subtle', 'vary-strong', 'upscale', 'reseed']);

export function parseReactionMap(text: string): ReactionMap {
  const map = new Map<string, ReactionAction>();
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const m = /^([a-z0-9_+'-]+)\s*=\s*([a-z-]+)(?::([1-4]))?$/.exec(entry);
    if (!m || !ACTIONS.has(m[2])) throw new Error(`SLACK_REACTIONS: "${entry}" is not emoji=action[:image]`);
    const [, emoji, action, image] = m;
    if (map.has(emoji)) throw new Error(`SLACK_REACTIONS: ${emoji} is listed twice`);
    if (action === 'reseed') {
      if (image) throw new Error(`SLACK_REACTIONS: reseed applies to the whole result, so "${entry}" cannot name an image`);
      map.set(emoji, { action: 'reseed' });
    } else {
      map.set(emoji, { action: action as Exclude<ReactionAction['action'], 'reseed'>, index: image ? Number(image) - 1 : 0 });
    }
  }
  return { emoji: [...map.keys()], get: (emoji) => map.get(emoji.replace(/::skin-tone-\d$/, '')) };
}
