/** Message nonces: stable per job and kind, within Discord's 25 characters. */
import { describe, expect, it } from 'vitest';
import { MAX_NONCE_LENGTH, nonceFor } from '../../../adapters/discord/nonce.ts';

describe('nonces', () => {
  it('are stable per job and kind, and within Discord\'s 25 characters', () => {
    expect(nonceFor('job-1', 'result')).toBe(nonceFor('job-1', 'result'));
    expect(nonceFor('job-1', 'result')).not.toBe(nonceFor('job-1', 'progress'));
    expect(nonceFor('job-1', 'result')).not.toBe(nonceFor('job-2', 'result'));
    expect(nonceFor('x'.repeat(500), 'result')).toHaveLength(MAX_NONCE_LENGTH);
  });
});
