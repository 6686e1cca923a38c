/**
 * The REST client settings both Discord halves share (the bot's discord.js Client and the
 * worker's deliverer), and the error shapes they branch on.
 *
 * Rate limits: @discordjs/rest is the client's own rate limiter: it queues per bucket and waits
 * out a 429's Retry-After. We keep that, but bound it: a wait longer than `maxRateLimitWaitMs`,
 * or more than `maxRateLimitWaits` waits within one call (withRateLimitBudget), is rejected
 * (RateLimitError) instead of parking a caller for minutes; the delivery service's retry layer
 * then decides (classifyDiscordError hands it the advised wait).
 * Server errors and dropped connections: @discordjs/rest would retry them at once, with no
 * pause; we turn that off (`retries: 0`). The delivery service's retry layer is the only one
 * that retries them, with backoff.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DiscordAPIError, HTTPError, RateLimitError, REST, type RateLimitData, type RESTOptions } from '@discordjs/rest';
import { classifyCommonError } from '../../src/delivery-retry.ts';
import type { DeliveryErrorClass } from '../../src/delivery.ts';

export const DISCORD_API_VERSION = '10';

/** Discord's JSON error codes the adapter reacts to. */
export const DiscordCode = {
  UnknownChannel: 10003,
  UnknownMessage: 10008,
  UnknownWebhook: 10015,
  UnknownInteraction: 10062,
  CannotEditOthersMessage: 50005,
  InvalidWebhookToken: 50027,
  MissingAccess: 50001,
  MissingPermissions: 50013,
  RequestEntityTooLarge: 40005,
  AlreadyAcknowledged: 40060,
} as const;

export interface DiscordRestLimits {
  /** Per-request timeout. */
  timeoutMs: number;
  /** Longest Retry-After the client will sit out before giving up on the call. */
  maxRateLimitWaitMs: number;
  /** Rate-limit waits one call (withRateLimitBudget) may sit out before it is handed back. */
  maxRateLimitWaits?: number;
}

export const DEFAULT_REST_LIMITS: DiscordRestLimits = { timeoutMs: 15_000, maxRateLimitWaitMs: 30_000, maxRateLimitWaits: 3 };

/** The rate-limit waits the current call has sat out (withRateLimitBudget). */
const callWaits = new AsyncLocalStorage<{ waits: number }>();

/**
 * Runs one REST call with its own bound on rate-limit waits: @discordjs/rest re-sends a
 * rate-limited request for as long as Discord keeps answering 429. The count follows the call
 * (AsyncLocalStorage), so other calls to a busy channel do not use it up.
 */
export function withRateLimitBudget<T>(call: () => Promise<T>): Promise<T> {
  return callWaits.run({ waits: 0 }, call);
}

/** rejectOnRateLimit: too long a wait, or one too many for the current call, is handed back. */
function boundedRateLimits(limits: DiscordRestLimits): (data: RateLimitData) => boolean {
  const maxWaits = limits.maxRateLimitWaits ?? 3;
  return (data) => {
    if (data.retryAfter > limits.maxRateLimitWaitMs) return true;
    const budget = callWaits.getStore();
    return budget !== undefined && ++budget.waits > maxWaits;
  };
}

/** Options for `new REST(...)` and for discord.js `new Client({ rest })`. */
export function discordRestOptions(apiUrl: string, limits: DiscordRestLimits = DEFAULT_REST_LIMITS): Partial<RESTOptions> {
  return {
    api: apiUrl.replace(/\/+$/, ''),
    version: DISCORD_API_VERSION,
    retries: 0,
    timeout: limits.timeoutMs,
    rejectOnRateLimit: boundedRateLimits(limits),
  };
}

export function createDiscordRest(token: string, apiUrl: string, limits?: DiscordRestLimits): REST {
  return new REST(discordRestOptions(apiUrl, limits)).setToken(token);
}

export function discordCode(err: unknown): number | string | undefined {
  return err instanceof DiscordAPIError ? err.code : undefined;
}

export function isDiscordCode(err: unknown, ...codes: number[]): boolean {
  const code = discordCode(err);
  return typeof code === 'number' && codes.includes(code);
}

/**
 * The Discord deliverer's reading of an error (Deliverer.classifyError): a rate limit the
 * client gave up on carries Discord's advised wait; a 5xx, a timeout or a dropped connection is
 * worth another try; any other 4xx will not change on retry.
 */
export function classifyDiscordError(err: unknown): DeliveryErrorClass {
  if (err instanceof RateLimitError) return { verdict: 'retry', status: 429, retryAfterMs: err.retryAfter };
  if (err instanceof DiscordAPIError || err instanceof HTTPError) {
    if (err.status === 429 || err.status === 408 || err.status >= 500) return { verdict: 'retry', status: err.status };
    return { verdict: 'permanent', status: err.status };
  }
  // Our own error classes and network failures; anything unknown is retried (the attempt bound keeps that finite).
  return classifyCommonError(err) ?? { verdict: 'retry' };
}
