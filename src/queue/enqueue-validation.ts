/**
 * What every JobQueue checks before it admits a job, whatever stores it: the payload against
 * the versioned schema, and the platform secret against the payload's platform. Both queue
 * implementations call this, so a payload refused by one is refused by the other with the
 * same words.
 */
import { InvalidJobError, parseJobPayload, type JobPayload } from '../jobs.ts';
import { platformSecretSchema, type SecretGrant } from '../platform-secrets.ts';

const NOT_QUEUED = 'This request could not be queued. Please send it again.';

export function validSecret(secret: SecretGrant, payload: JobPayload): SecretGrant {
  const parsed = platformSecretSchema.safeParse(secret.value);
  if (!parsed.success) throw new InvalidJobError(NOT_QUEUED, `secret: ${parsed.error.issues[0].message}`);
  if (!(Number.isInteger(secret.ttlS) && secret.ttlS > 0)) throw new InvalidJobError(NOT_QUEUED, `secret lifetime ${secret.ttlS} is not a whole number of seconds`);
  if (parsed.data.platform !== payload.origin.platform) {
    throw new InvalidJobError(NOT_QUEUED, `secret is for ${parsed.data.platform} but the job comes from ${payload.origin.platform}`);
  }
  return { value: parsed.data, ttlS: secret.ttlS };
}

/** The payload as the worker will see it, and its secret; throws InvalidJobError before anything is stored. */
export function validateEnqueue(input: JobPayload, secret?: SecretGrant): { payload: JobPayload; secret?: SecretGrant } {
  const payload = parseJobPayload(input);
  return secret ? { payload, secret: validSecret(secret, payload) } : { payload };
}

/** The payload an EnqueueOptions.prepare step returned, held to what the reservation was made for. */
export function validatePrepared(reserved: JobPayload, prepared: JobPayload): JobPayload {
  const payload = parseJobPayload(prepared);
  if (payload.origin.platform !== reserved.origin.platform || payload.origin.userId !== reserved.origin.userId) {
    throw new InvalidJobError(NOT_QUEUED, 'prepare changed the requester the slot was reserved for');
  }
  return payload;
}
