/** Discord's reply credential: an interaction token, which Discord honours for 15 minutes. */
import { z } from 'zod';
import { grantSecret, secretOf, type PlatformSecret, type PlatformSecretRule, type SecretGrant } from '../../src/platform-secrets.ts';

export const DISCORD_TOKEN_TTL_S = 15 * 60;

const schema = z.object({ platform: z.literal('discord'), interactionToken: z.string().min(1) });

export const discordSecret: PlatformSecretRule<z.infer<typeof schema>> = { schema, ttlS: DISCORD_TOKEN_TTL_S };

export function interactionTokenGrant(interactionToken: string): SecretGrant {
  return grantSecret(discordSecret, { platform: 'discord', interactionToken });
}

/** The interaction token of a job's secret; null once it has expired (or for another platform's secret). */
export function interactionTokenOf(secret: PlatformSecret | null): string | null {
  return secretOf(discordSecret, secret)?.interactionToken ?? null;
}
