/** Slack's reply credential: a slash command's response_url, which Slack honours for 30 minutes. */
import { z } from 'zod';
import { grantSecret, secretOf, type PlatformSecret, type PlatformSecretRule, type SecretGrant } from '../../src/platform-secrets.ts';

export const SLACK_RESPONSE_URL_TTL_S = 30 * 60;

const schema = z.object({ platform: z.literal('slack'), responseUrl: z.url() });

export const slackSecret: PlatformSecretRule<z.infer<typeof schema>> = { schema, ttlS: SLACK_RESPONSE_URL_TTL_S };

export function responseUrlGrant(responseUrl: string): SecretGrant {
  return grantSecret(slackSecret, { platform: 'slack', responseUrl });
}

/** The response_url of a job's secret; null once it has expired (or for another platform's secret). */
export function responseUrlOf(secret: PlatformSecret | null): string | null {
  return secretOf(slackSecret, secret)?.responseUrl ?? null;
}
