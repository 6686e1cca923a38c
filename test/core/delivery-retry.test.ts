import { describe, expect, it } from 'vitest';
import { PermanentDeliveryError, TransientDeliveryError } from '../../src/delivery.ts';
import { DiscordAPIError, HTTPError, RateLimitError } from '@discordjs/rest';
import { classifyDiscordError } from '../../adapters/discord/rest.ts';
import { classifySlackError } from '../../adapters/slack/slack-api.ts';
import { classifyCommonError, DeliveryGaveUpError, withDeliveryRetry, type RetryPolicy } from '../../src/delivery-retry.ts';

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000, callTimeoutMs: 1000 };

/** The classification a deliverer built only on the shared rules would give. */
const classify = (err: unknown) => classifyCommonError(err) ?? { verdict: 'retry' as const };

function scripted(outcomes: Array<Error | string>) {
  let i = 0;
  const fn = async () => {
    const o = outcomes[i++];
    if (o instanceof Error) throw o;
    return o;
  };
  return { fn, calls: () => i };
}

describe('error classification', () => {
  it('shared rules: our own error classes and network failures; nothing platform-specific', () => {
    expect(classifyCommonError(new PermanentDeliveryError('forbidden', 403))).toEqual({ verdict: 'permanent', status: 403 });
    expect(classifyCommonError(new TransientDeliveryError('slow down', 429, 1200))).toEqual({ verdict: 'retry', status: 429, retryAfterMs: 1200 });
    expect(classifyCommonError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toEqual({ verdict: 'retry' });
    expect(classifyCommonError(new Error('fetch failed', { cause: Object.assign(new Error('y'), { code: 'ECONNREFUSED' }) }))).toEqual({ verdict: 'retry' });
    // A platform's answer is the platform deliverer's to read.
    expect(classifyCommonError(Object.assign(new Error('x'), { status: 503 }))).toBeUndefined();
    expect(classifyCommonError(Object.assign(new Error('x'), { code: 'slack_webapi_platform_error', data: { error: 'channel_not_found' } }))).toBeUndefined();
  });

  it("Discord's deliverer reads discord.js errors: a rate limit given up on carries its wait, 5xx retried, other 4xx permanent", () => {
    const request = { body: {}, files: undefined };
    expect(classifyDiscordError(new DiscordAPIError({ message: 'Missing Access', code: 50001 }, 50001, 403, 'POST', '/channels/1/messages', request))).toEqual({ verdict: 'permanent', status: 403 });
    expect(classifyDiscordError(new DiscordAPIError({ message: 'x', code: 0 }, 0, 502, 'POST', '/channels/1/messages', request))).toEqual({ verdict: 'retry', status: 502 });
    expect(classifyDiscordError(new HTTPError(503, 'Service Unavailable', 'PATCH', '/x', request))).toEqual({ verdict: 'retry', status: 503 });
    const limited = new RateLimitError({ timeToReset: 750, limit: 5, method: 'POST', hash: 'h', url: '/x', route: '/x', majorParameter: '1', global: false, retryAfter: 750, sublimitTimeout: 0, scope: 'user' });
    expect(classifyDiscordError(limited)).toEqual({ verdict: 'retry', status: 429, retryAfterMs: 750 });
    expect(classifyDiscordError(new PermanentDeliveryError('too big', 413))).toEqual({ verdict: 'permanent', status: 413 });
  });

  it("Slack's deliverer reads Web API errors: platform errors permanent, rate limits with their wait, HTTP 5xx retried", () => {
    expect(classifySlackError(Object.assign(new Error('x'), { code: 'slack_webapi_platform_error', data: { error: 'channel_not_found' } }))).toEqual({ verdict: 'permanent' });
    expect(classifySlackError(Object.assign(new Error('x'), { code: 'slack_webapi_rate_limited_error', retryAfter: 2 }))).toEqual({ verdict: 'retry', status: 429, retryAfterMs: 2000 });
    expect(classifySlackError(Object.assign(new Error('x'), { code: 'slack_webapi_http_error', statusCode: 503 }))).toEqual({ verdict: 'retry', status: 503 });
    expect(classifySlackError(Object.assign(new Error('x'), { code: 'slack_webapi_http_error', statusCode: 404 }))).toEqual({ verdict: 'permanent', status: 404 });
    expect(classifySlackError(new TransientDeliveryError('rate limited', 429, 120_000))).toEqual({ verdict: 'retry', status: 429, retryAfterMs: 120_000 });
  });
});

describe('withDeliveryRetry', () => {
  it('429 with Retry-After, then 500, then success: waits the advised time, then backs off, and returns once', async () => {
    const waits: number[] = [];
    const { fn, calls } = scripted([new TransientDeliveryError('rate limited', 429, 1500), new TransientDeliveryError('oops', 500), 'posted']);
    const out = await withDeliveryRetry('post', fn, policy, { classify, sleep: async (ms) => void waits.push(ms), random: () => 0.5 });
    expect(out).toBe('posted');
    expect(calls()).toBe(3);
    // advised 1500 ms (+50 margin); then exponential: attempt 2 ceiling 200 ms, half + 0.5 * half = 150 ms
    expect(waits).toEqual([1550, 150]);
  });

  it('really sleeps the advised wait', async () => {
    const { fn } = scripted([new TransientDeliveryError('rate limited', 429, 300), 'ok']);
    const t0 = Date.now();
    await withDeliveryRetry('post', fn, policy, { classify });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('stops at once on a permanent error and after the attempt bound on transient ones', async () => {
    const permanent = scripted([new PermanentDeliveryError('Unknown Channel', 404), 'never']);
    const refused = await withDeliveryRetry('post', permanent.fn, policy, { classify, sleep: async () => {} }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeliveryGaveUpError);
    expect(refused).toMatchObject({ attempts: 1, verdict: { verdict: 'permanent', status: 404 }, reason: 'post was refused: Unknown Channel' });
    expect(permanent.calls()).toBe(1);

    const flaky = scripted([new TransientDeliveryError('a', 502), new TransientDeliveryError('b', 502), new TransientDeliveryError('c', 502), new TransientDeliveryError('d', 502), 'late']);
    await expect(withDeliveryRetry('post', flaky.fn, policy, { classify, sleep: async () => {} })).rejects.toThrow('post failed after 4 tries: d');
    expect(flaky.calls()).toBe(4);
  });

  it('gives up when the advised wait is longer than the policy allows', async () => {
    const { fn, calls } = scripted([new TransientDeliveryError('come back in an hour', 429, 3_600_000), 'ok']);
    await expect(withDeliveryRetry('post', fn, policy, { classify, sleep: async () => {} })).rejects.toThrow('come back in an hour');
    expect(calls()).toBe(1);
  });

  it('abandons a call that does not answer within the call timeout and retries it', async () => {
    let n = 0;
    const fn = () => (++n === 1 ? new Promise<string>(() => {}) : Promise.resolve('second'));
    const out = await withDeliveryRetry('post', fn, { ...policy, callTimeoutMs: 50 }, { classify, sleep: async () => {} });
    expect(out).toBe('second');
    expect(n).toBe(2);
  });
});
