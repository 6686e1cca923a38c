/**
 * The REST client settings both Discord halves share (the bot's discord.js Client and the
 * worker's deliverer), and the error shapes they branch on.
 *
 * Rate limits: @discordjs/rest already queues per bucket and waits out a 429's Retry-After; we
 * keep that, but bound it: a wait longer than `maxRateLimitWaitMs` is rejected (RateLimitError)
 * instead of parking a worker for minutes, and the caller's retry policy takes over.
 * Server errors: @discordjs/rest would retry a 5xx at once, with no pause; we turn that off
 * (`retries: 0`) and retry with backoff ourselves (withServerRetry).
 */
import { DiscordAPIError, HTTPError, RateLimitError, REST, type RESTOptions } from '@discordjs/rest';

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
}

export const DEFAULT_REST_LIMITS: DiscordRestLimits = { timeoutMs: 15_000, maxRateLimitWaitMs: 30_000 };

/** Options for `new REST(...)` and for discord.js `new Client({ rest })`. */
export function discordRestOptions(apiUrl: string, limits: DiscordRestLimits = DEFAULT_REST_LIMITS): Partial<RESTOptions> {
  return {
    api: apiUrl.replace(/\/+$/, ''),
    version: DISCORD_API_VERSION,
    retries: 0,
    timeout: limits.timeoutMs,
    rejectOnRateLimit: (data) => data.retryAfter > limits.maxRateLimitWaitMs,
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

/** Worth another try after a pause: a 5xx, a timeout or a dropped connection. Never a 4xx or a rejected rate limit. */
export function isServerSideFailure(err: unknown): boolean {
  if (err instanceof HTTPError) return err.status >= 500;
  if (err instanceof DiscordAPIError) return err.status >= 500;
  if (err instanceof RateLimitError) return false;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
    return err.name === 'AbortError' || err.name === 'TimeoutError' || (typeof code === 'string' && /^(ECONN|EPIPE|ETIMEDOUT|UND_ERR)/.test(code));
  }
  return false;
}

export interface BackoffPolicy {
  /** Total tries including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { attempts: 3, baseDelayMs: 400, maxDelayMs: 5_000 };

/** Run a call, retrying server-side failures with exponential backoff (jittered); other errors pass through at once. */
export async function withServerRetry<T>(fn: () => Promise<T>, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= policy.attempts || !isServerSideFailure(err)) throw err;
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, ceiling / 2 + (random() * ceiling) / 2));
    }
  }
}
