/**
 * Message nonces for channel posts. With `enforce_nonce`, Discord returns the message it
 * already created for a nonce (within a few minutes) instead of creating a second one, so a
 * post retried after a timeout, or by a re-run of the job, appears once.
 */
import { createHash } from 'node:crypto';

/** Discord accepts nonces of at most 25 characters. */
export const MAX_NONCE_LENGTH = 25;

/** Stable per job and message kind: the same job's result always carries the same nonce. */
export function nonceFor(jobId: string, kind: string): string {
  return createHash('sha256').update(`${kind}\0${jobId}`).digest('base64url').slice(0, MAX_NONCE_LENGTH);
}
