/**
 * Emoji reactions on a Slack result (SLACK_REACTIONS, Slack emoji names, e.g.
 * `repeat=vary,one=vary:1,mag=upscale:1,x=delete`), in the vocabulary of
 * commands/reaction-map.ts. The first entry is the one the bot adds to its own results, so
 * people can start it with one click.
 */
import { describeReactions, parseReactionMap, type ReactionMap, type ReactionSyntax } from '../../commands/reaction-map.ts';

export const DEFAULT_SLACK_REACTIONS = 'repeat=vary,one=vary:1,two=vary:2,three=vary:3,four=vary:4,arrows_counterclockwise=reseed,mag=upscale:1';

/** Slack reports skin-toned reactions as `name::skin-tone-N`; the map is keyed by the base name. */
export function baseEmojiName(name: string): string {
  return name.replace(/::skin-tone-\d$/, '').trim();
}

const SLACK_SYNTAX: ReactionSyntax = {
  variable: 'SLACK_REACTIONS',
  emojiHelp: 'emoji by Slack name, with or without colons',
  configuredKey: (written) => /^:?([a-z0-9_+'-]+):?$/.exec(written)?.[1] ?? null,
  reportedKey: baseEmojiName,
};

export function parseSlackReactions(text: string = DEFAULT_SLACK_REACTIONS): ReactionMap {
  return parseReactionMap(text, SLACK_SYNTAX);
}

/** The line help ends with; Slack writes emoji by name between colons. */
export function describeSlackReactions(map: ReactionMap): string | null {
  return describeReactions(map, (entry) => `:${entry.key}:`);
}
