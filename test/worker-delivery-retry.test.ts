import { describe, expect, it } from 'vitest';
import { PermanentDeliveryError, TransientDeliveryError } from '../src/delivery.ts';
import { classifyDeliveryError, parseRetryAfter, withDeliveryRetry, type RetryPolicy } from '../src/delivery-retry.ts';

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000, callTimeoutMs: 1000 };

function scripted(outcomes: Array<Error | string>) {
  let i = 0;
  const fn = async () => {
    const o = outcomes[i++];
    if (o instanceof Error) throw o;
    return o;
  };
  return { fn, calls: () => i };
}

describe('classifyDeliveryError', () => {
  it('reads our errors, HTTP statuses, SDK rate-limit errors and network codes', () => {
    expect(classifyDeliveryError(new PermanentDeliveryError('forbidden', 403))).toEqual({ retry: false });
    expect(classifyDeliveryError(new TransientDeliveryError('slow down', 429, 1200))).toEqual({ retry: true, status: 429, retryAfterMs: 1200 });
    expect(classifyDeliveryError(Object.assign(new Error('x'), { status: 429, headers: { 'retry-after': '3' } }))).toEqual({ retry: true, status: 429, retryAfterMs: 3000 });
    expect(classifyDeliveryError(Object.assign(new Error('x'), { status: 503 }))).toEqual({ retry: true, status: 503 });
    expect(classifyDeliveryError(Object.assign(new Error('x'), { statusCode: 404 }))).toEqual({ retry: false });
    expect(classifyDeliveryError(Object.assign(new Error('x'), { status: 408 }))).toEqual({ retry: true, status: 408 });
    // Slack WebClient errors
    expect(classifyDeliveryError(Object.assign(new Error('x'), { code: 'slack_webapi_rate_limited_error', retryAfter: 2 }))).toEqual({ retry: true, status: 429, retryAfterMs: 2000 });
    expect(classifyDeliveryError(Object.assign(new Error('x'), { code: 'slack_webapi_platform_error', data: { error: 'channel_not_found' } }))).toEqual({ retry: false });
    // discord.js RateLimitError (rejectOnRateLimit)
    expect(classifyDeliveryError(Object.assign(new Error('x'), { name: 'RateLimitError', retryAfter: 750 }))).toEqual({ retry: true, status: 429, retryAfterMs: 750 });
    expect(classifyDeliveryError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toEqual({ retry: true });
    expect(classifyDeliveryError(new Error('fetch failed', { cause: Object.assign(new Error('y'), { code: 'ECONNREFUSED' }) }))).toEqual({ retry: true });
    expect(classifyDeliveryError(new Error('fetch failed', { cause: Object.assign(new Error('y'), { status: 401 }) }))).toEqual({ retry: false });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('withDeliveryRetry', () => {
  it('429 with Retry-After, then 500, then success: waits the advised time, then backs off, and returns once', async () => {
    const waits: number[] = [];
    const { fn, calls } = scripted([new TransientDeliveryError('rate limited', 429, 1500), new TransientDeliveryError('oops', 500), 'posted']);
    const out = await withDeliveryRetry('post', fn, policy, { sleep: async (ms) => void waits.push(ms), random: () => 0.5 });
    expect(out).toBe('posted');
    expect(calls()).toBe(3);
    // advised 1500 ms (+50 margin); then exponential: attempt 2 ceiling 200 ms, half + 0.5 * half = 150 ms
    expect(waits).toEqual([1550, 150]);
  });

  it('really sleeps the advised wait', async () => {
    const { fn } = scripted([new TransientDeliveryError('rate limited', 429, 300), 'ok']);
    const t0 = Date.now();
    await withDeliveryRetry('post', fn, policy);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('stops at once on a permanent error and after the attempt bound on transient ones', async () => {
    const permanent = scripted([new PermanentDeliveryError('Unknown Channel', 404), 'never']);
    await expect(withDeliveryRetry('post', permanent.fn, policy, { sleep: async () => {} })).rejects.toThrow('Unknown Channel');
    expect(permanent.calls()).toBe(1);

    const flaky = scripted([new TransientDeliveryError('a', 502), new TransientDeliveryError('b', 502), new TransientDeliveryError('c', 502), new TransientDeliveryError('d', 502), 'late']);
    await expect(withDeliveryRetry('post', flaky.fn, policy, { sleep: async () => {} })).rejects.toThrow('d');
    expect(flaky.calls()).toBe(4);
  });

  it('gives up when the advised wait is longer than the policy allows', async () => {
    const { fn, calls } = scripted([new TransientDeliveryError('come back in an hour', 429, 3_600_000), 'ok']);
    await expect(withDeliveryRetry('post', fn, policy, { sleep: async () => {} })).rejects.toThrow('come back in an hour');
    expect(calls()).toBe(1);
  });

  it('abandons a call that does not answer within the call timeout and retries it', async () => {
    let n = 0;
    const fn = () => (++n === 1 ? new Promise<string>(() => {}) : Promise.resolve('second'));
    const out = await withDeliveryRetry('post', fn, { ...policy, callTimeoutMs: 50 }, { sleep: async () => {} });
    expect(out).toBe('second');
    expect(n).toBe(2);
  });
});
