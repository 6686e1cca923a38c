/** The reaction-map vocabulary shared by DISCORD_REACTIONS and SLACK_REACTIONS, apart from either platform's emoji. */
import { describe, expect, it } from 'vitest';
import { describeReactions, parseReactionMap, reactionActionRef, type ReactionSyntax } from '../../commands/reaction-map.ts';
import { decodeAction, encodeAction } from '../../src/actions.ts';
import { ConfigError } from '../../src/config.ts';

/** Emoji written as upper-case words, reported in lower case: enough to see which rule is the platform's. */
const WORDS: ReactionSyntax = {
  variable: 'SLACK_REACTIONS',
  emojiHelp: 'words',
  configuredKey: (written) => (/^[A-Z]+$/.test(written) ? written.toLowerCase() : null),
  reportedKey: (reported) => reported.toLowerCase(),
};

describe('reaction map vocabulary', () => {
  it('reads every action, with image 1 when none is named, in the order configured', () => {
    const map = parseReactionMap('A=vary, B=subtle:3, C=upscale:4, D=reseed, E=delete', WORDS);
    expect(map.entries.map((e) => [e.emoji, e.key, e.action])).toEqual([
      ['A', 'a', { action: 'variation', mode: 'strong', index: 0 }],
      ['B', 'b', { action: 'variation', mode: 'subtle', index: 2 }],
      ['C', 'c', { action: 'upscale', index: 3 }],
      ['D', 'd', { action: 'reseed' }],
      ['E', 'e', { action: 'delete' }],
    ]);
    expect(map.get('b')).toEqual({ action: 'variation', mode: 'subtle', index: 2 });
    expect(map.get('B')).toEqual({ action: 'variation', mode: 'subtle', index: 2 });
    expect(map.get('f')).toBeUndefined();
    expect(map.get(undefined)).toBeUndefined();
    expect(describeReactions(map, (e) => `[${e.emoji}]`)).toBe(
      'Reactions on a result: [A] strong variations of image 1 · [B] subtle variations of image 3 · [C] upscale image 4 · [D] new seed · [E] remove (requester only).',
    );
    expect(describeReactions(parseReactionMap(' , ', WORDS), (e) => e.emoji)).toBeNull();
  });

  it.each([
    ['A', 'has no "="'],
    ['a=vary', 'does not start with an emoji'],
    ['=vary', 'does not start with an emoji'],
    ['A=vary:0', 'names image 0'],
    ['A=vary:1:2', 'names image 1:2'],
    ['A=upscale:x', 'names image x'],
    ['A=delete:1', 'cannot name an image'],
    ['A=Vary', '"Vary" is not an action'],
    ['A=vary,A=reseed', 'A is listed twice'],
  ])('refuses %s, naming the variable', (text, detail) => {
    const parse = () => parseReactionMap(text, WORDS);
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/^Invalid configuration: SLACK_REACTIONS must be a comma list of emoji=action \(words; actions vary/);
    expect(parse).toThrow(detail);
  });

  it('asks for what the matching button asks for', () => {
    const map = parseReactionMap('A=vary:2,B=subtle:1,C=upscale:3,D=reseed,E=delete', WORDS);
    const ids = map.entries.map((e) => encodeAction(reactionActionRef(e.action, 'res-1')));
    expect(ids).toEqual(['im1:v:res-1:1', 'im1:s:res-1:0', 'im1:u:res-1:2', 'im1:r:res-1', 'im1:d:res-1']);
    for (const id of ids) expect(decodeAction(id)).not.toBeNull();
  });

  it('maps the edits that start at once: zoom 2x / 1.5x and the four pans, on the image named', () => {
    const map = parseReactionMap('A=zoom, B=zoom1.5:2, C=pan-left, D=pan-right:4, E=pan-up, F=pan-down', WORDS);
    expect(map.entries.map((e) => encodeAction(reactionActionRef(e.action, 'res-1')))).toEqual([
      'im1:z2:res-1:0',
      'im1:z15:res-1:1',
      'im1:pl:res-1:0',
      'im1:pr:res-1:3',
      'im1:pu:res-1:0',
      'im1:pd:res-1:0',
    ]);
    expect(describeReactions(map, (e) => e.emoji)).toBe(
      'Reactions on a result: A zoom out 2x image 1 · B zoom out 1.5x image 2 · C pan left image 1 · D pan right image 4 · E pan up image 1 · F pan down image 1.',
    );
    // The buttons that ask first cannot be reactions, and the error says why.
    expect(() => parseReactionMap('A=remix', WORDS)).toThrow('"remix" asks for a prompt or a drawn region first, which a reaction cannot show: it is a button only');
    expect(() => parseReactionMap('A=zoom:5', WORDS)).toThrow('names image 5');
  });
});
