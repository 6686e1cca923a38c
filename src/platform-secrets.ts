/**
 * Short-lived platform credentials that let a worker answer the user in place: a Discord
 * interaction token (valid 15 minutes) or a Slack response_url (valid 30 minutes).
 * They never go into job data (BullMQ keeps that in clear text); they are kept under their
 * own key that expires with the credential.
 */
import { z } from 'zod';
import type { KeyValueStore } from './kv.ts';

export const DISCORD_TOKEN_TTL_S = 15 * 60;
export const SLACK_RESPONSE_URL_TTL_S = 30 * 60;

export const platformSecretSchema = z.discriminatedUnion('platform', [
  z.object({ platform: z.literal('discord'), interactionToken: z.string().min(1) }),
  z.object({ platform: z.literal('slack'), responseUrl: z.url() }),
]);
export type PlatformSecret = z.infer<typeof platformSecretSchema>;

export function secretTtlSeconds(secret: PlatformSecret): number {
  return secret.platform === 'discord' ? DISCORD_TOKEN_TTL_S : SLACK_RESPONSE_URL_TTL_S;
}

/** Where a job's secret is kept (exported for callers that read it together with other keys). */
export const secretKey = (jobId: string) => `secret:${jobId}`;

export async function storeSecret(kv: KeyValueStore, jobId: string, secret: PlatformSecret, ttlS = secretTtlSeconds(secret)): Promise<void> {
  await kv.set(secretKey(jobId), JSON.stringify(secret), ttlS);
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
