/**
 * The retry policy for deliveries: bounded attempts, exponential backoff with jitter for
 * server errors and network failures, and the platform's own advice (Retry-After) for rate
 * limits. Errors are recognised by shape so deliverers may throw our own errors or let the
 * platform SDKs' errors (discord.js REST, Slack Web API) through unchanged.
 */
import { PermanentDeliveryError, TransientDeliveryError, type Deliverer } from './delivery.ts';

/** Defined with the Deliverer interface, which lets each platform classify its own errors. */
export type DeliveryErrorClass = NonNullable<ReturnType<NonNullable<Deliverer['classifyError']>>>;

const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH']);

type ErrorShape = {
  name?: string;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
  retryAfter?: unknown;
  retryAfterMs?: unknown;
  headers?: Record<string, unknown> | { get?(name: string): string | null };
  cause?: unknown;
};

function headerValue(headers: ErrorShape['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const v = (headers as Record<string, unknown>)[name] ?? (headers as Record<string, unknown>)[name.toLowerCase()];
  return v === undefined ? undefined : String(v);
}

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

export function classifyDeliveryError(err: unknown): DeliveryErrorClass {
  if (err instanceof PermanentDeliveryError) return { retry: false };
  if (err instanceof TransientDeliveryError) return { retry: true, retryAfterMs: err.retryAfterMs, status: err.status };
  if (!err || typeof err !== 'object') return { retry: true };
  const e = err as ErrorShape;

  // Slack Web API errors carry a code; a platform error (channel_not_found, not_in_channel...) will not change on retry.
  if (e.code === 'slack_webapi_rate_limited_error') return { retry: true, status: 429, retryAfterMs: typeof e.retryAfter === 'number' ? e.retryAfter * 1000 : undefined };
  if (e.code === 'slack_webapi_platform_error') return { retry: false };
  // discord.js RateLimitError (only when the REST client rejects on rate limits) gives milliseconds.
  if (e.name === 'RateLimitError' && typeof e.retryAfter === 'number') return { retry: true, status: 429, retryAfterMs: e.retryAfter };

  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) {
    if (status === 429) {
      const advised = typeof e.retryAfterMs === 'number' ? e.retryAfterMs : parseRetryAfter(headerValue(e.headers, 'retry-after'));
      return { retry: true, status, retryAfterMs: advised };
    }
    if (status === 408 || status >= 500) return { retry: true, status };
    if (status >= 400) return { retry: false };
  }
  if (typeof e.code === 'string' && (RETRYABLE_NETWORK_CODES.has(e.code) || e.code.startsWith('UND_ERR'))) return { retry: true };
  if (e.cause && e.cause !== err) return classifyDeliveryError(e.cause);
  // Unknown failures (timeouts, a dropped socket) are retried: the attempt bound keeps that finite.
  return { retry: true };
}

export interface RetryPolicy {
  /** Total tries including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** An advised wait longer than this ends the retries (the job's own retry takes over). */
  maxRetryAfterMs: number;
  /** Each try is abandoned after this long. */
  callTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 15_000, maxRetryAfterMs: 60_000, callTimeoutMs: 60_000 };

export interface RetryHooks {
  /** The deliverer's own reading of its errors (Deliverer.classifyError); undefined falls back to the shared rules. */
  classify?(err: unknown): DeliveryErrorClass | undefined;
  onRetry?(info: { attempt: number; waitMs: number; error: unknown; status?: number }): void;
  sleep?(ms: number): Promise<void>;
  random?(): number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function withCallTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TransientDeliveryError(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function withDeliveryRetry<T>(what: string, fn: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY_POLICY, hooks: RetryHooks = {}): Promise<T> {
  const sleep = hooks.sleep ?? realSleep;
  const random = hooks.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withCallTimeout(fn(), policy.callTimeoutMs, what);
    } catch (err) {
      const cls = hooks.classify?.(err) ?? classifyDeliveryError(err);
      if (!cls.retry || attempt >= policy.attempts) throw err;
      let waitMs: number;
      if (cls.retryAfterMs !== undefined) {
        if (cls.retryAfterMs > policy.maxRetryAfterMs) throw err;
        // A little extra so the retry lands after the window, not on its edge.
        waitMs = cls.retryAfterMs + 50;
      } else {
        const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
        waitMs = Math.round(ceiling / 2 + (random() * ceiling) / 2);
      }
      hooks.onRetry?.({ attempt, waitMs, error: err, status: cls.status });
      await sleep(waitMs);
    }
  }
}
