/**
 * Short-lived platform credentials that let a delivery answer the user in place (a Discord
 * interaction token, a Slack response_url). They never go into job data (BullMQ keeps that in
 * clear text); they are kept under their own key that expires with the credential.
 *
 * Which fields a secret has and how long it lives is its platform's (the platform module's
 * `secret`): here a secret is only an envelope naming its platform, and whoever enqueues one
 * grants it with its lifetime.
 */
import { z } from 'zod';
import type { KeyValueStore } from './kv.ts';

export const platformSecretSchema = z.object({ platform: z.string().min(1).max(32) }).catchall(z.string().min(1).max(4000));
export type PlatformSecret = z.infer<typeof platformSecretSchema>;

/** A secret as it is handed to the queue: its value and how long it stays valid. */
export interface SecretGrant {
  value: PlatformSecret;
  ttlS: number;
}

/** What a platform module says about its secret: the fields, and how long the platform honours it. */
export interface PlatformSecretRule<S extends PlatformSecret = PlatformSecret> {
  schema: z.ZodType<S>;
  ttlS: number;
}

/** The grant for a secret of this platform, checked against its schema. */
export function grantSecret<S extends PlatformSecret>(rule: PlatformSecretRule<S>, value: S): SecretGrant {
  return { value: rule.schema.parse(value), ttlS: rule.ttlS };
}

/** The secret read back as its platform's type; null when absent or another platform's. */
export function secretOf<S extends PlatformSecret>(rule: PlatformSecretRule<S>, secret: PlatformSecret | null): S | null {
  const parsed = rule.schema.safeParse(secret);
  return parsed.success ? parsed.data : null;
}

/** Where a job's secret is kept (exported for callers that read it together with other keys). */
export const secretKey = (jobId: string) => `secret:${jobId}`;

export async function storeSecret(kv: KeyValueStore, jobId: string, grant: SecretGrant): Promise<void> {
  await kv.set(secretKey(jobId), JSON.stringify(grant.value), grant.ttlS);
}

/** The secret if it is still valid; null once it has expired (callers fall back to bot routes). */
export async function loadSecret(kv: KeyValueStore, jobId: string): Promise<PlatformSecret | null> {
  return decodeSecret(await kv.get(secretKey(jobId)));
}

/** The secret from a raw value read under secretKey(); same answers as loadSecret(). */
export function decodeSecret(raw: string | null): PlatformSecret | null {
  if (!raw) return null;
  const parsed = platformSecretSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : null;
}
