/**
 * The one retry layer for deliveries: bounded attempts, exponential backoff with jitter, and
 * the platform's own advice (Retry-After) for rate limits. Which errors are worth another try
 * is the deliverer's call (Deliverer.classifyError): this file knows no platform's error codes,
 * only our own error classes and network failures, which every deliverer shares.
 */
import { backoffCeilingMs } from './backoff.ts';
import { PermanentDeliveryError, TransientDeliveryError, type DeliveryErrorClass } from './delivery.ts';

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH']);

/** A dropped connection, a refused one, or a request timeout, anywhere along the error's causes. */
export function isNetworkFailure(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { name?: unknown; code?: unknown; cause?: unknown };
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.name === 'ConnectTimeoutError') return true;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || e.code.startsWith('UND_ERR'))) return true;
  return e.cause !== err && isNetworkFailure(e.cause, depth + 1);
}

/**
 * The rules every deliverer shares: our own error classes say what they are, a network failure
 * is worth another try. Undefined: the platform's deliverer must decide.
 */
export function classifyCommonError(err: unknown): DeliveryErrorClass | undefined {
  if (err instanceof PermanentDeliveryError) return { verdict: 'permanent', status: err.status };
  if (err instanceof TransientDeliveryError) return { verdict: 'retry', retryAfterMs: err.retryAfterMs, status: err.status };
  if (isNetworkFailure(err)) return { verdict: 'retry' };
  return undefined;
}

/**
 * A delivery the retry layer gave up on: a permanent refusal, the attempt bound reached, or an
 * advised wait beyond the policy. The ledger records it as failed with this reason.
 */
export class DeliveryGaveUpError extends Error {
  constructor(
    readonly what: string,
    readonly attempts: number,
    readonly verdict: DeliveryErrorClass,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`${what} ${verdict.verdict === 'permanent' ? 'was refused' : `failed after ${attempts} ${attempts === 1 ? 'try' : 'tries'}`}: ${why}`, { cause });
    this.name = 'DeliveryGaveUpError';
  }

  /** Short, for the ledger record and logs. */
  get reason(): string {
    return this.message.length > 300 ? `${this.message.slice(0, 299)}…` : this.message;
  }
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
  /** The deliverer's reading of its errors (Deliverer.classifyError). */
  classify(err: unknown): DeliveryErrorClass;
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

/** Runs a platform call, retrying what the deliverer calls retryable; throws DeliveryGaveUpError when it stops. */
export async function withDeliveryRetry<T>(what: string, fn: () => Promise<T>, policy: RetryPolicy, hooks: RetryHooks): Promise<T> {
  const sleep = hooks.sleep ?? realSleep;
  const random = hooks.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withCallTimeout(fn(), policy.callTimeoutMs, what);
    } catch (err) {
      const cls = hooks.classify(err);
      if (cls.verdict === 'permanent' || attempt >= policy.attempts) throw new DeliveryGaveUpError(what, attempt, cls, err);
      let waitMs: number;
      if (cls.retryAfterMs !== undefined) {
        if (cls.retryAfterMs > policy.maxRetryAfterMs) throw new DeliveryGaveUpError(what, attempt, cls, err);
        // A little extra so the retry lands after the window, not on its edge.
        waitMs = cls.retryAfterMs + 50;
      } else {
        const ceiling = backoffCeilingMs(attempt, policy.baseDelayMs, policy.maxDelayMs);
        waitMs = Math.round(ceiling / 2 + (random() * ceiling) / 2);
      }
      hooks.onRetry?.({ attempt, waitMs, error: err, status: cls.status });
      await sleep(waitMs);
    }
  }
}
