/**
 * What an artifact key may look like: a relative path of up to 4 safe segments, e.g.
 * `r_abc123/0.png` or `uploads/discord-123.png`. No segment starts with "." (so no "." or
 * "..", and no temporary file), so a key can never leave the store's directory. The job
 * schema (jobs.ts) and the filesystem store (artifacts-fs.ts) both hold keys to this.
 */
import { z } from 'zod';

export const ARTIFACT_KEY_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}(\/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}){0,3}$/;

export const artifactKeySchema = z.string().max(200).regex(ARTIFACT_KEY_PATTERN, { error: "an artifact key: up to 4 segments of letters, digits, '.', '_' or '-', none starting with '.'" });
