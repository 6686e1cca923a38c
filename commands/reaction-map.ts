/**
 * The reaction-map vocabulary both chat platforms configure (DISCORD_REACTIONS, SLACK_REACTIONS):
 * a comma list of emoji=action, where the action is one of
 *   vary[:k]     strong variations of image k (default 1): a new set from that image
 *   subtle[:k]   subtle variations of image k
 *   upscale[:k]  upscale image k
 *   zoom[:k], zoom1.5[:k]                       zoom out image k 2x / 1.5x
 *   pan-left[:k], pan-right[:k], pan-up[:k], pan-down[:k]   pan image k
 *   reseed       the same prompt with a new seed
 *   delete       remove the result (requester only)
 * Remix, Custom Zoom and Vary (Region) ask something first (a form, the editor), which a
 * reaction has no way to show, so they are buttons only.
 * How an emoji is written and matched is the platform's (`ReactionSyntax`); what the actions
 * mean is the same everywhere, so a reaction starts exactly what the matching button does.
 */
import type { ActionRef } from '../src/actions.ts';

/** Reaction names of the edits that start at once (the buttons that open a form have none). */
const EDIT_REACTIONS = { zoom: 'zoom-2', 'zoom1.5': 'zoom-1.5', 'pan-left': 'pan-left', 'pan-right': 'pan-right', 'pan-up': 'pan-up', 'pan-down': 'pan-down' } as const;
type EditReaction = (typeof EDIT_REACTIONS)[keyof typeof EDIT_REACTIONS];
const EDIT_WORDS: Record<EditReaction, string> = {
  'zoom-2': 'zoom out 2x',
  'zoom-1.5': 'zoom out 1.5x',
  'pan-left': 'pan left',
  'pan-right': 'pan right',
  'pan-up': 'pan up',
  'pan-down': 'pan down',
};
import { ConfigError } from '../src/config.ts';

export type ReactionAction =
  | { action: 'variation'; mode: 'strong' | 'subtle'; index: number }
  | { action: 'upscale'; index: number }
  | { action: 'edit'; edit: EditReaction; index: number }
  | { action: 'reseed' }
  | { action: 'delete' };

export interface ReactionEntry {
  /** The emoji as configured, for help text. */
  emoji: string;
  /** What reported reactions are matched against. */
  key: string;
  action: ReactionAction;
}

export interface ReactionMap {
  /** In the order configured (Slack adds the first to its own results as a hint). */
  readonly entries: readonly ReactionEntry[];
  /** The action for a reaction as the platform reports it, if the map has one. */
  get(reported: string | null | undefined): ReactionAction | undefined;
}

export interface ReactionSyntax {
  /** The platform's variable that holds its map (e.g. DISCORD_REACTIONS), for the error message. */
  variable: string;
  /** How emoji are written in the variable, for the error message. */
  emojiHelp: string;
  /** The key of an emoji as configured, or null when it is not an emoji of the platform. */
  configuredKey(written: string): string | null;
  /** The key of an emoji as a reaction event reports it. */
  reportedKey(reported: string): string;
}

const TILES = 4;

function parseAction(text: string): ReactionAction | string {
  const [name, tileText, ...extra] = text.split(':');
  const tile = tileText === undefined ? 1 : Number(tileText);
  if (extra.length > 0 || !Number.isInteger(tile) || tile < 1 || tile > TILES) return `names image ${tileText}${extra.map((e) => `:${e}`).join('')}`;
  switch (name) {
    case 'vary':
      return { action: 'variation', mode: 'strong', index: tile - 1 };
    case 'subtle':
      return { action: 'variation', mode: 'subtle', index: tile - 1 };
    case 'upscale':
      return { action: 'upscale', index: tile - 1 };
    case 'reseed':
    case 'delete':
      // Whole-result actions: an image number would promise something they do not do.
      return tileText === undefined ? { action: name } : `cannot name an image: ${name} applies to the whole result`;
    default:
      if (Object.hasOwn(EDIT_REACTIONS, name)) return { action: 'edit', edit: EDIT_REACTIONS[name as keyof typeof EDIT_REACTIONS], index: tile - 1 };
      if (name === 'remix' || name === 'custom-zoom' || name === 'region') return `"${name}" asks for a prompt or a drawn region first, which a reaction cannot show: it is a button only`;
      return `"${name}" is not an action`;
  }
}

export function parseReactionMap(text: string, syntax: ReactionSyntax): ReactionMap {
  const bad = (detail: string) =>
    new ConfigError(syntax.variable, `a comma list of emoji=action (${syntax.emojiHelp}; actions vary[:1-${TILES}], subtle[:1-${TILES}], upscale[:1-${TILES}], ${Object.keys(EDIT_REACTIONS).map((n) => `${n}[:1-${TILES}]`).join(', ')}, reseed, delete); ${detail}`);
  const byKey = new Map<string, ReactionEntry>();
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    // Split at the last "=": no action contains one, and the emoji then needs no escaping.
    const eq = entry.lastIndexOf('=');
    if (eq < 0) throw bad(`"${entry}" has no "="`);
    const emoji = entry.slice(0, eq).trim();
    const key = emoji ? syntax.configuredKey(emoji) : null;
    if (!key) throw bad(`"${entry}" does not start with an emoji`);
    const action = parseAction(entry.slice(eq + 1).trim());
    if (typeof action === 'string') throw bad(`"${entry}" ${action}`);
    if (byKey.has(key)) throw bad(`${emoji} is listed twice`);
    byKey.set(key, { emoji, key, action });
  }
  const entries = [...byKey.values()];
  return { entries, get: (reported) => (reported ? byKey.get(syntax.reportedKey(reported))?.action : undefined) };
}

/** What a reaction asks for, as the button id that asks for the same (src/actions.ts). */
export function reactionActionRef(action: ReactionAction, resultId: string): ActionRef {
  switch (action.action) {
    case 'variation':
      return { action: action.mode === 'subtle' ? 'vary-subtle' : 'variation', resultId, index: action.index };
    case 'upscale':
      return { action: 'upscale', resultId, index: action.index };
    case 'edit':
      return { action: action.edit, resultId, index: action.index };
    case 'reseed':
      return { action: 'reseed', resultId };
    case 'delete':
      return { action: 'delete', resultId };
  }
}

function describeAction(a: ReactionAction): string {
  switch (a.action) {
    case 'variation':
      return `${a.mode} variations of image ${a.index + 1}`;
    case 'upscale':
      return `upscale image ${a.index + 1}`;
    case 'edit':
      return `${EDIT_WORDS[a.edit]} image ${a.index + 1}`;
    case 'reseed':
      return 'new seed';
    case 'delete':
      return 'remove (requester only)';
  }
}

/** One line for help: what each reaction does, each emoji shown as the platform writes it; null for an empty map. */
export function describeReactions(map: ReactionMap, showEmoji: (entry: ReactionEntry) => string): string | null {
  if (map.entries.length === 0) return null;
  return `Reactions on a result: ${map.entries.map((e) => `${showEmoji(e)} ${describeAction(e.action)}`).join(' · ')}.`;
}
