/** The /imagine slash command definitions Discord is given, and their autocomplete choices. */
import { describe, expect, it } from 'vitest';
import { aspectChoices, buildSlashCommands, modelChoices } from '../../../adapters/discord/slash-commands.ts';

describe('slash commands', () => {
  it('take their limits and sampler choices from configuration', () => {
    const [imagine, ...rest] = buildSlashCommands({ maxSteps: 30, maxN: 2, allowedSamplers: ['euler', 'ddim'], pressPolicy: 'requester' });
    expect(rest.map((c) => c.name)).toEqual(['cancel', 'queue', 'help']);
    const opt = (name: string) => (imagine.options as any[]).find((o) => o.name === name);
    expect([opt('steps').min_value, opt('steps').max_value]).toEqual([1, 30]);
    expect([opt('count').min_value, opt('count').max_value]).toEqual([1, 2]);
    expect(opt('sampler').choices).toEqual([{ name: 'euler', value: 'euler' }, { name: 'ddim', value: 'ddim' }]);
    expect(opt('model').autocomplete).toBe(true);
    expect(opt('aspect').autocomplete).toBe(true);
    expect(opt('image').type).toBe(11);
    expect(opt('prompt').required).toBe(true);
    expect(imagine.options!.length).toBeLessThanOrEqual(25);
  });

  it('autocomplete offers the typed ratio first and matching suggestions', () => {
    expect(aspectChoices('7 : 5').map((c) => c.value)).toEqual(['7:5']);
    expect(aspectChoices('16').map((c) => c.value)).toEqual(['16:9']);
    expect(aspectChoices('').length).toBe(9);
    expect(modelChoices(['tiny', 'sd15', 'sdxl-turbo'], 'SD').map((c) => c.value)).toEqual(['sd15', 'sdxl-turbo']);
  });
});
