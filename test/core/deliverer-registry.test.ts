/** The deliverer registry: one deliverer per platform, and a clear error for a platform this process cannot reach. */
import { describe, expect, it } from 'vitest';
import { DelivererRegistry, NoDelivererError } from '../../src/deliverer-registry.ts';
import { RecordingDeliverer } from '../support/recording-deliverer.ts';

describe('DelivererRegistry', () => {
  it('gives each platform its deliverer and names what is missing', () => {
    const discord = new RecordingDeliverer({ platform: 'discord' });
    const registry = new DelivererRegistry([discord, new RecordingDeliverer({ platform: 'web' })]);
    expect(registry.get('discord')).toBe(discord);
    expect(registry.platforms()).toEqual(['discord', 'web']);
    expect(() => registry.get('slack')).toThrow(NoDelivererError);
    expect(() => registry.get('slack')).toThrow('this process cannot deliver to slack (it delivers to: discord, web); set that platform\'s credentials on the bot');
    expect(() => registry.add(new RecordingDeliverer({ platform: 'discord' }))).toThrow('two deliverers for discord');
  });
});
