/** Splitting long messages (the queue listing) at Discord's content limit. */
import { describe, expect, it } from 'vitest';
import { splitMessage } from '../../../adapters/discord/queue-commands.ts';

describe('splitting long messages', () => {
  it('splits at line ends, and hard-splits only a line longer than a message', () => {
    expect(splitMessage('aaa\nbbb\ncc', 7)).toEqual(['aaa\nbbb', 'cc']);
    expect(splitMessage('x'.repeat(10) + '\ny', 4)).toEqual(['xxxx', 'xxxx', 'xx\ny']);
    expect(splitMessage('short')).toEqual(['short']);
  });
});
