/** SLACK_REACTIONS: the default reaction map, parsing an operator's map, and describing it. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SLACK_REACTIONS, describeSlackReactions, parseSlackReactions } from '../../../adapters/slack/reactions.ts';
import { ConfigError } from '../../../src/config.ts';

describe('SLACK_REACTIONS', () => {
  it('maps the default emoji to the same actions as Discord', () => {
    const map = parseSlackReactions();
    expect(map.entries[0].key).toBe('repeat');
    expect(map.get('repeat')).toEqual({ action: 'variation', mode: 'strong', index: 0 });
    expect(map.get('three')).toEqual({ action: 'variation', mode: 'strong', index: 2 });
    expect(map.get('arrows_counterclockwise')).toEqual({ action: 'reseed' });
    expect(map.get('mag')).toEqual({ action: 'upscale', index: 0 });
    expect(map.get('tada')).toBeUndefined();
    expect(DEFAULT_SLACK_REACTIONS.split(',')).toHaveLength(map.entries.length);
  });

  it('reads a custom map, with colons and skin tones tolerated', () => {
    const map = parseSlackReactions(':thumbsup:=subtle:2, x=delete');
    expect(map.entries.map((e) => e.key)).toEqual(['thumbsup', 'x']);
    expect(map.get('thumbsup::skin-tone-3')).toEqual({ action: 'variation', mode: 'subtle', index: 1 });
    expect(map.get('x')).toEqual({ action: 'delete' });
    expect(describeSlackReactions(map)).toBe('Reactions on a result: :thumbsup: subtle variations of image 2 · :x: remove (requester only).');
  });

  it('refuses a bad map naming the variable', () => {
    for (const bad of ['repeat', 'repeat=explode', 'repeat=vary:5', 'repeat=reseed:1', 'a=vary,a=reseed', '🔁=vary']) {
      expect(() => parseSlackReactions(bad)).toThrow(ConfigError);
      expect(() => parseSlackReactions(bad)).toThrow(/SLACK_REACTIONS/);
    }
  });
});
