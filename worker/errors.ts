/**
 * Why a job stopped, as types: the consumer turns each into the right queue outcome (retry or
 * not) and the right words for the user. Every user message here is short and safe to show:
 * no paths, no stack, no internal ids.
 */
import { PermanentDeliveryError, type FailureNotice } from '../src/delivery.ts';
import { InvalidJobError } from '../src/jobs.ts';

/** The user (or an operator) cancelled the job; it stops at the next step. */
export class JobCancelledError extends Error {
  constructor() {
    super('job cancelled');
    this.name = 'JobCancelledError';
  }
}

export class JobTimeoutError extends Error {
  constructor(readonly timeoutS: number) {
    super(`job exceeded its ${timeoutS} s timeout`);
    this.name = 'JobTimeoutError';
  }
}

/** The model could not be loaded here (missing or broken folder): detail goes to logs, not users. */
export class ModelLoadError extends Error {
  constructor(readonly model: string, cause: unknown) {
    super(`model "${model}" could not be loaded: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'ModelLoadError';
  }
}

/** A job refers to something that no longer exists (an expired result, a missing image). */
export class SourceUnavailableError extends Error {
  constructor(readonly userMessage: string, detail: string) {
    super(`${userMessage} (${detail})`);
    this.name = 'SourceUnavailableError';
  }
}

/**
 * An input image that can never be used, however often the job runs: its key is not a valid
 * artifact key, the store cannot read it for good (a directory, no permission), or its bytes
 * are not an image that decodes. Distinct from SourceUnavailableError (gone, not broken).
 */
export class UnusableInputError extends Error {
  constructor(readonly userMessage: string, detail: string) {
    super(`${userMessage} (${detail})`);
    this.name = 'UnusableInputError';
  }
}

/** BullMQ fails a job without calling the processor once it has stalled (crashed its worker) too often. */
export const STALLED_LIMIT_REASONS = ['job stalled more than allowable limit', 'job started more than allowable limit'];

/** Errors for which another attempt cannot help (a platform that refused the post for good, e.g. a deleted channel, included). */
export function isPermanentJobError(err: unknown): boolean {
  return (
    err instanceof InvalidJobError ||
    err instanceof JobCancelledError ||
    err instanceof JobTimeoutError ||
    err instanceof SourceUnavailableError ||
    err instanceof UnusableInputError ||
    err instanceof PermanentDeliveryError
  );
}

/** What the user reads when a job ends without a result. */
export function failureNotice(err: unknown): FailureNotice {
  if (err instanceof JobCancelledError) return { message: 'Cancelled.', retry: false, cancelled: true };
  if (err instanceof InvalidJobError) return { message: err.userMessage, retry: false };
  if (err instanceof SourceUnavailableError || err instanceof UnusableInputError) return { message: err.userMessage, retry: false };
  if (err instanceof JobTimeoutError) {
    return { message: `This took longer than the ${formatDuration(err.timeoutS)} limit and was stopped. Try fewer steps, a smaller size or fewer images.`, retry: true };
  }
  if (err instanceof ModelLoadError) {
    return { message: `The model "${err.model}" is not available right now (it failed to load on the worker). Try again later or pick another model.`, retry: true };
  }
  const message = (err as Error | undefined)?.message ?? '';
  if (STALLED_LIMIT_REASONS.includes(message)) {
    return { message: 'This request stopped the image worker twice, so it was not run again. You can retry it, perhaps with a smaller size.', retry: true };
  }
  return { message: 'Something went wrong while making this image. You can retry it.', retry: true };
}

function formatDuration(s: number): string {
  if (s % 60 === 0 && s >= 60) return `${s / 60} min`;
  return `${s} s`;
}
