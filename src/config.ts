/**
 * The one schema over the environment. Every variable the product reads is declared here;
 * a bad value (or a value another one needs) stops start-up with one line naming the variable.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { STEPS_CEILING } from './jobs.ts';
import { SAMPLERS } from './samplers.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const EMBEDDED_MODEL_DIR = path.join(REPO_ROOT, 'models', 'tiny');
/** The embedded SDXL-format demo model; offered beside models/tiny only when the folder is there. */
export const EMBEDDED_XL_MODEL_DIR = path.join(REPO_ROOT, 'models', 'tiny-xl');

/** Variables whose values must never be printed or logged. */
export const SECRET_ENV_NAMES = ['DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'WEB_ACCESS_KEY'] as const;

const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s === '' ? undefined : s));

const int = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: `a whole number from ${min} to ${max}` })
    .int({ error: `a whole number from ${min} to ${max}` })
    .min(min, { error: `a whole number from ${min} to ${max}` })
    .max(max, { error: `a whole number from ${min} to ${max}` })
    .default(fallback);

const commaList = z
  .string()
  .optional()
  .transform((s) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean));

/** `host:port,host:port` -> [{ host, port }]; the last colon splits, so `[::1]:7000` works too. */
const seedNodes = commaList.pipe(
  z.array(
    z
      .string()
      .regex(/^\S+:\d{1,5}$/, { error: 'a comma list of host:port seed nodes, e.g. redis-0:6379,redis-1:6379' })
      .transform((entry) => {
        const at = entry.lastIndexOf(':');
        return { host: entry.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(entry.slice(at + 1)) };
      })
      .refine((node) => node.port >= 1 && node.port <= 65535, { error: 'a comma list of host:port seed nodes (ports 1 to 65535)' }),
  ),
);

const url = (what: string) =>
  z.url({ error: `${what} (a URL such as ${what.includes('Slack') ? 'https://slack.com/api/' : 'https://discord.com/api'})` });

const snowflake = z.string().regex(/^\d{5,25}$/, { error: 'a numeric Discord id (snowflake)' });

export const envSchema = z
  .object({
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, { error: 'a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379' })
      .optional(),
    /** Seed nodes of a Redis Cluster; when set, every process uses the cluster (REDIS_URL then only lends credentials and TLS). */
    REDIS_CLUSTER_NODES: seedNodes,
    MODEL_DIR: optionalString,
    MODELS_CONFIG: optionalString,
    UPSCALER_DIR: optionalString,
    DISCORD_TOKEN: optionalString,
    DISCORD_APP_ID: snowflake.optional(),
    DISCORD_API_URL: url('the Discord REST base without version').default('https://discord.com/api'),
    DISCORD_GUILD_IDS: commaList.pipe(z.array(snowflake)),
    /** Reaction emoji -> action on result messages (grammar in adapters/discord/reactions.ts); unset = the default map. */
    DISCORD_REACTIONS: optionalString,
    SLACK_BOT_TOKEN: z.string().regex(/^xoxb-\S+$/, { error: 'a Slack bot token starting with xoxb-' }).optional(),
    SLACK_SIGNING_SECRET: z.string().regex(/^\S{8,}$/, { error: 'the Slack app signing secret' }).optional(),
    SLACK_APP_TOKEN: z.string().regex(/^xapp-\S+$/, { error: 'a Slack app-level token starting with xapp-' }).optional(),
    SLACK_API_URL: url('the Slack Web API base').default('https://slack.com/api/'),
    SLACK_REACTIONS: optionalString,
    PORT: int(0, 65535, 3000),
    /** Loopback by default: nothing outside this machine reaches the server until the operator opens it. */
    HOST: z
      .string()
      .regex(/^[A-Za-z0-9.:-]+$/, { error: 'an address to listen on, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)' })
      .default('127.0.0.1'),
    /** How many reverse proxies stand in front of the server; only then is X-Forwarded-For believed. */
    TRUST_PROXY: int(0, 10, 0),
    /** auto = on unless Discord or Slack is configured (then the playground is opt-in, not a side door). */
    WEB_PLAYGROUND: z.enum(['auto', 'on', 'off'], { error: 'auto, on or off' }).default('auto'),
    /**
     * The playground's address as people outside reach it (scheme, host, optional path), for
     * links sent from chat (Vary (Region)); unset = no such links, and the button is hidden.
     */
    PUBLIC_URL: z
      .string()
      .regex(/^https?:\/\/[^\s?#]+$/, { error: 'an http:// or https:// address without query, e.g. https://imagine.example.com' })
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
    WEB_ACCESS_KEY: z.string().regex(/^\S{16,200}$/, { error: 'at least 16 characters without spaces (e.g. from `openssl rand -hex 16`)' }).optional(),
    ORT_PROVIDERS: commaList.pipe(z.array(z.enum(['cuda', 'cpu', 'tensorrt', 'dml', 'coreml'], { error: 'a comma list of cuda, cpu, tensorrt, dml, coreml' }))),
    ORT_THREADS: int(0, 256, 0),
    ARTIFACT_DIR: z.string().default(path.join(REPO_ROOT, 'artifacts')),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
    QUEUE_PREFIX: z.string().regex(/^\{[\w-]+\}$|^[\w-]+$/, { error: 'a key prefix such as {imagine}' }).default('{imagine}'),
    QUEUE_NAME: z.string().regex(/^[\w-]+$/, { error: 'letters, digits, - and _' }).default('imagine'),
    /** The models this worker serves (names from the model catalog); empty = all. */
    WORKER_MODELS: commaList.pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, { error: 'a comma list of model names from the model catalog' }))),
    /** How long the next job of a model this worker has not loaded may wait before the worker takes it anyway. */
    WORKER_MODEL_WAIT_S: int(0, 86_400, 30),
    WORKER_CONCURRENCY: int(1, 64, 1),
    WORKER_BATCHING: z.enum(['auto', 'on', 'off'], { error: 'auto, on or off' }).default('auto'),
    WORKER_MAX_BATCH: int(1, 64, 4),
    WORKER_MAX_JOBS: int(0, 1_000_000, 0),
    WORKER_MAX_RSS_MB: int(0, 1_000_000, 0),
    JOB_TIMEOUT_S: int(1, 86_400, 600),
    JOB_ATTEMPTS: int(1, 10, 3),
    PROGRESS_INTERVAL_MS: int(0, 60_000, 1500),
    PROGRESS_PREVIEW: z.enum(['on', 'off'], { error: 'on or off' }).default('on'),
    RESULT_TTL_DAYS: int(1, 365, 7),
    LIMIT_USER_QUEUED: int(1, 1000, 3),
    LIMIT_USER_PER_MINUTE: int(1, 10_000, 10),
    LIMIT_QUEUE_DEPTH: int(1, 1_000_000, 500),
    MAX_STEPS: int(1, STEPS_CEILING, 50),
    MAX_N: int(1, 4, 4),
    ALLOWED_SAMPLERS: commaList.pipe(z.array(z.enum(SAMPLERS, { error: `a comma list of ${SAMPLERS.join(', ')}` }))),
    PRESS_POLICY: z
      .string()
      .regex(/^(requester|anyone|roles:[\w,-]+)$/, { error: 'requester, anyone, or roles:<id>,<id>' })
      .default('requester'),
    NSFW_MODE: z.enum(['spoiler', 'withhold'], { error: 'spoiler or withhold' }).default('spoiler'),
    REDIS_ALLOW_EVICTION: z.enum(['0', '1', 'true', 'false'], { error: '0/1 or true/false' }).default('0').transform((v) => v === '1' || v === 'true'),
  })
  .superRefine((env, ctx) => {
    const need = (cond: boolean, name: string, message: string) => {
      if (cond) ctx.addIssue({ code: 'custom', path: [name], message });
    };
    need(
      env.REDIS_CLUSTER_NODES.length > 0 && !/^\{[\w-]+\}$/.test(env.QUEUE_PREFIX),
      'QUEUE_PREFIX',
      'a hash-tagged prefix such as {imagine} with REDIS_CLUSTER_NODES (the braces keep every queue key in one cluster slot, which the queue scripts need)',
    );
    need(!!env.DISCORD_TOKEN && !env.DISCORD_APP_ID, 'DISCORD_APP_ID', 'required when DISCORD_TOKEN is set (the application id from the Discord developer portal)');
    need(!!env.DISCORD_APP_ID && !env.DISCORD_TOKEN, 'DISCORD_TOKEN', 'required when DISCORD_APP_ID is set (the bot token)');
    need(
      !!env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN,
      'SLACK_SIGNING_SECRET',
      'required when SLACK_BOT_TOKEN is set (or set SLACK_APP_TOKEN for Socket Mode)',
    );
    need(
      !env.SLACK_BOT_TOKEN && (!!env.SLACK_SIGNING_SECRET || !!env.SLACK_APP_TOKEN),
      'SLACK_BOT_TOKEN',
      'required when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set (the xoxb- bot token)',
    );
  });

export type Config = z.output<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly variable: string, readonly expected: string) {
    super(`Invalid configuration: ${variable} ${expected.startsWith('required') ? 'is ' : 'must be '}${expected}`);
    this.name = 'ConfigError';
  }
}

/** Parse the environment; throws a ConfigError for the first bad variable (never echoing its value). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty value means unset: a Secret or .env file lists every token with only some filled in.
  const known = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = envSchema.safeParse(known);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const variable = String(issue.path[0] ?? 'environment');
  throw new ConfigError(variable, issue.message);
}
