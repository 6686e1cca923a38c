/** DISCORD_REACTIONS: the default reaction map, parsing an operator's map, and describing it. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_REACTIONS, describeDiscordReactions, parseDiscordReactions } from '../../../adapters/discord/reactions.ts';
import { ConfigError } from '../../../src/config.ts';

describe('reaction map', () => {
  it('parses the default map', () => {
    const map = parseDiscordReactions(DEFAULT_REACTIONS);
    expect(map.get('🔁')).toEqual({ action: 'variation', mode: 'strong', index: 0 });
    expect(map.get('3️⃣')).toEqual({ action: 'variation', mode: 'strong', index: 2 });
    // Keycap emoji arrive with or without the variation selector.
    expect(map.get('3\u20e3')).toEqual({ action: 'variation', mode: 'strong', index: 2 });
    expect(map.get('🔍')).toEqual({ action: 'upscale', index: 0 });
    expect(map.get('❌')).toEqual({ action: 'delete' });
    expect(map.get('👍')).toBeUndefined();
    expect(map.get(null)).toBeUndefined();
  });

  it('parses a custom map', () => {
    const map = parseDiscordReactions('🎲=reseed, 🌱=subtle:2 ,⬆️=upscale:4');
    expect(map.entries).toEqual([
      { emoji: '🎲', key: '🎲', action: { action: 'reseed' } },
      { emoji: '🌱', key: '🌱', action: { action: 'variation', mode: 'subtle', index: 1 } },
      { emoji: '⬆️', key: '⬆', action: { action: 'upscale', index: 3 } },
    ]);
    expect(describeDiscordReactions(map)).toBe('Reactions on a result: 🎲 new seed · 🌱 subtle variations of image 2 · ⬆️ upscale image 4.');
  });

  it.each([
    ['🔁', 'has no "="'],
    ['🔁=vary:5', 'names image 5'],
    ['🔁=reseed:2', 'cannot name an image'],
    ['🔁=explode', '"explode" is not an action'],
    ['🔁=vary,🔁=reseed', 'is listed twice'],
  ])('refuses %s naming the variable', (text, detail) => {
    let error: unknown;
    try {
      parseDiscordReactions(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('DISCORD_REACTIONS');
    expect((error as Error).message).toContain(detail);
  });
});
