/**
 * The interface between the delivery step and the platforms: the processes holding the
 * platform connections (the bot role) call a Deliverer (adapters/<platform>/deliver.ts
 * implements one) to show progress, post the result with its actions, and report failure.
 * Deliverers use only REST/Web APIs, never a gateway connection.
 */
import { z } from 'zod';
import type { JobPayload, JobResult, Origin, Platform } from './jobs.ts';
import type { PlatformSecret } from './platform-secrets.ts';

export interface DeliveryContext {
  jobId: string;
  payload: JobPayload;
  /** Still-valid interaction token / response_url, or null once expired. */
  secret: PlatformSecret | null;
}

/** Where a job's messages go: all a deliverer needs to reach the requester. */
export interface DeliveryTarget {
  jobId: string;
  origin: Origin;
  secret: PlatformSecret | null;
}

/**
 * A failure notice's context. A job whose data failed the schema has no payload to show, only
 * the origin that could still be read from it (payload null): the notice then says what went
 * wrong without repeating what was asked, and offers no Retry.
 */
export interface FailureContext extends DeliveryTarget {
  payload: JobPayload | null;
}

/** The target of a job whose payload is known; also its failure context. */
export function deliveryTarget(ctx: DeliveryContext): DeliveryTarget & { payload: JobPayload } {
  return { jobId: ctx.jobId, origin: ctx.payload.origin, payload: ctx.payload, secret: ctx.secret };
}

export interface ProgressUpdate {
  step: number;
  total: number;
  etaMs: number | null;
  /** Cheap latent preview PNG, when enabled. */
  preview?: Buffer;
}

export interface ResultFiles {
  /** The grid (n > 1) or the single image. */
  grid: Buffer;
  images: Buffer[];
}

/** Whether the model folder's safety checker flagged any image of the result. */
export function showsFlaggedImage(result: Pick<JobResult, 'images'>): boolean {
  return result.images.some((img) => img.nsfw === true);
}

export const failureNoticeSchema = z.object({
  /** Short user-facing text. */
  message: z.string().min(1).max(2000),
  /** Whether to offer a Retry action. */
  retry: z.boolean(),
  /** A cancelled job says "cancelled" rather than failed. */
  cancelled: z.boolean().optional(),
});
export type FailureNotice = z.infer<typeof failureNoticeSchema>;

export interface DeliveredMessage {
  /** The platform message that now shows the result (for reactions and later edits). */
  messageId: string;
  channelId?: string;
}

export interface Deliverer {
  readonly platform: Platform;
  progress(ctx: DeliveryContext, update: ProgressUpdate): Promise<void>;
  result(ctx: DeliveryContext, result: JobResult, files: ResultFiles): Promise<DeliveredMessage>;
  failure(ctx: FailureContext, notice: FailureNotice): Promise<void>;
  /**
   * This platform's reading of an error its calls threw: retry (with the platform's advised
   * wait, e.g. a 429's Retry-After) or give up. The delivery service's retry layer is the only
   * one that retries or backs off; it asks this, so the platform's error codes stay here.
   * Deliverers may start from classifyCommonError (our own error classes, network failures).
   */
  classifyError(err: unknown): DeliveryErrorClass;
}

/** What a deliverer makes of a failed call. */
export type DeliveryErrorClass =
  | { verdict: 'retry'; retryAfterMs?: number; status?: number }
  | { verdict: 'permanent'; status?: number };

/** Thrown by deliverers for platform answers that must not be retried (e.g. 403, unknown channel). */
export class PermanentDeliveryError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

/**
 * Thrown by deliverers for answers worth retrying (429, 5xx, timeouts). `retryAfterMs` carries
 * the platform's advised wait (Retry-After), which the worker's retry policy honours.
 */
export class TransientDeliveryError extends Error {
  constructor(message: string, readonly status?: number, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'TransientDeliveryError';
  }
}
