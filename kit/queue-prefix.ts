/**
 * Every test gets its own key namespace so tests never see each other's jobs, even when
 * they share one Redis (REDIS_URL) or run one after another on the same server.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, type AppConfig } from '../src/root/config.ts';

let counter = 0;

/** A hash-tagged prefix, valid for QUEUE_PREFIX, unique per call: `{t-<label>-<n>-<random>}`. */
export function uniquePrefix(label = 'q'): string {
  const safe = label.replace(/[^\w-]/g, '-').slice(0, 24) || 'q';
  counter += 1;
  return `{t-${safe}-${counter}-${randomBytes(4).toString('hex')}}`;
}

/** A validated configuration for a test: REDIS_URL, a fresh QUEUE_PREFIX, plus any env overrides. */
export function testConfig(redisUrl: string, env: Record<string, string> = {}, label?: string): AppConfig {
  return loadConfig({ REDIS_URL: redisUrl, QUEUE_PREFIX: uniquePrefix(label), LOG_LEVEL: 'silent', ...env });
}
