/**
 * What an artifact key may look like: a relative path of up to 4 safe segments, e.g.
 * `r_abc123/0.png` or `uploads/discord-123.png`. No segment starts with "." (so no "." or
 * "..", and no temporary file), so a key can never leave the store's directory. The
 * filesystem store (artifacts-fs.ts) refuses any other key, and the worker (job-plan.ts)
 * refuses a job naming one before it reads anything. The job schema leaves the key free on
 * purpose: a job refused there reaches the user without its parameters, while the worker's
 * refusal carries the whole job into the failure notice.
 */

export const ARTIFACT_KEY_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}(\/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}){0,3}$/;
