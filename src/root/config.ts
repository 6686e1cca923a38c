/**
 * The environment schema a process reads: the shared variables (src/config.ts) joined with
 * every platform module's part. Tests and tools that need the whole list read it here.
 */
import { composeEnvSchema, parseEnv } from '../config.ts';
import { PLATFORMS, type AppConfig } from './platforms.ts';

export type { AppConfig } from './platforms.ts';

export const envSchema = composeEnvSchema(PLATFORMS.map((p) => p.env));

/** Parse the environment; throws a ConfigError for the first bad variable (never echoing its value). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  return parseEnv<AppConfig>(envSchema, env);
}
