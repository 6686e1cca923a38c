/** The web playground's variables in the environment schema (joined into the one schema by the composition root). */
import { z } from 'zod';
import type { Config, PlatformEnvPart } from '../../src/config.ts';

const shape = {
  /** auto = on unless a chat platform is configured (then the playground is opt-in, not a side door). */
  WEB_PLAYGROUND: z.enum(['auto', 'on', 'off'], { error: 'auto, on or off' }).default('auto'),
  WEB_ACCESS_KEY: z.string().regex(/^\S{16,200}$/, { error: 'at least 16 characters without spaces (e.g. from `openssl rand -hex 16`)' }).optional(),
};

export type WebEnv = z.output<z.ZodObject<typeof shape>>;
/** What the playground's code reads: the shared configuration and its own part. */
export type WebConfig = Config & WebEnv;

export const webEnv: PlatformEnvPart<typeof shape> = {
  shape,
  secretNames: ['WEB_ACCESS_KEY'],
  // The playground is no chat platform: a worker has no reason to warn about its key.
  credentialNames: [],
};
