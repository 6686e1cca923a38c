/**
 * The schema over the environment: the variables every process shares are declared here, and
 * each platform module (adapters/<platform>/module.ts) declares its own part; the composition
 * root joins them into the one schema the process reads (src/root/config.ts). A bad value (or a
 * value another one needs) stops start-up with one line naming the variable.
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

export const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s === '' ? undefined : s));

export const int = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: `a whole number from ${min} to ${max}` })
    .int({ error: `a whole number from ${min} to ${max}` })
    .min(min, { error: `a whole number from ${min} to ${max}` })
    .max(max, { error: `a whole number from ${min} to ${max}` })
    .default(fallback);

export const commaList = z
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

/** A URL variable; `example` is shown in the error message. */
export const url = (what: string, example: string) => z.url({ error: `${what} (a URL such as ${example})` });

const coreEnvSchema = z
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
    PORT: int(0, 65535, 3000),
    /** Loopback by default: nothing outside this machine reaches the server until the operator opens it. */
    HOST: z
      .string()
      .regex(/^[A-Za-z0-9.:-]+$/, { error: 'an address to listen on, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)' })
      .default('127.0.0.1'),
    /** How many reverse proxies stand in front of the server; only then is X-Forwarded-For believed. */
    TRUST_PROXY: int(0, 10, 0),
    /**
     * The playground's address as people outside reach it (scheme, host, optional path), for
     * links sent from chat (Vary (Region)); unset = no such links, and the button is hidden.
     */
    PUBLIC_URL: z
      .string()
      .regex(/^https?:\/\/[^\s?#]+$/, { error: 'an http:// or https:// address without query, e.g. https://imagine.example.com' })
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
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
  });

/** Adds an issue for `name` when `cond` holds: how a schema says that one variable needs another. */
export type NeedCheck = (cond: boolean, name: string, message: string) => void;

/** What a platform module adds to the environment schema. */
export interface PlatformEnvPart<Shape extends z.ZodRawShape = z.ZodRawShape> {
  shape: Shape;
  /** Variables whose values must never be printed or logged (their exact values are scrubbed from logs). */
  secretNames: readonly (keyof Shape & string)[];
  /** The platform's credentials: a worker that is given them warns that it ignores them. */
  credentialNames: readonly (keyof Shape & string)[];
  /** Rules between the platform's variables (one needs another). */
  check?(env: z.output<z.ZodObject<Shape>>, need: NeedCheck): void;
}

function coreChecks(env: z.output<typeof coreEnvSchema>, need: NeedCheck): void {
  need(
    env.REDIS_CLUSTER_NODES.length > 0 && !/^\{[\w-]+\}$/.test(env.QUEUE_PREFIX),
    'QUEUE_PREFIX',
    'a hash-tagged prefix such as {imagine} with REDIS_CLUSTER_NODES (the braces keep every queue key in one cluster slot, which the queue scripts need)',
  );
}

/** The variables every process shares, checked as the process reads them (platform parts joined in by composeEnvSchema). */
export function composeEnvSchema(parts: readonly PlatformEnvPart[]): z.ZodObject<z.ZodRawShape> {
  const shape: z.ZodRawShape = { ...coreEnvSchema.shape };
  for (const part of parts) {
    for (const name of Object.keys(part.shape)) if (name in shape) throw new Error(`${name} is declared twice in the environment schema`);
    Object.assign(shape, part.shape);
  }
  return z.object(shape).superRefine((env, ctx) => {
    const need = needIn(ctx);
    coreChecks(env as z.output<typeof coreEnvSchema>, need);
    for (const part of parts) part.check?.(env as never, need);
  });
}

function needIn(ctx: z.RefinementCtx): NeedCheck {
  return (cond, name, message) => {
    if (cond) ctx.addIssue({ code: 'custom', path: [name], message });
  };
}

/** The shared variables alone (no platform's): what core code, commands and workers read. */
export const envSchema = coreEnvSchema.superRefine((env, ctx) => coreChecks(env, needIn(ctx)));

/** The shared configuration; a platform's code reads `Config & <its part>`. */
export type Config = z.output<typeof coreEnvSchema>;

export class ConfigError extends Error {
  constructor(readonly variable: string, readonly expected: string) {
    super(`Invalid configuration: ${variable} ${expected.startsWith('required') ? 'is ' : 'must be '}${expected}`);
    this.name = 'ConfigError';
  }
}

/** Parse the environment against a schema; throws a ConfigError for the first bad variable (never echoing its value). */
export function parseEnv<T>(schema: z.ZodObject<z.ZodRawShape>, env: NodeJS.ProcessEnv): T {
  // An empty value means unset: a Secret or .env file lists every token with only some filled in.
  const known = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = schema.safeParse(known);
  if (parsed.success) return parsed.data as T;
  const issue = parsed.error.issues[0];
  const variable = String(issue.path[0] ?? 'environment');
  throw new ConfigError(variable, issue.message);
}

/** The shared variables only (no platform); the process reads the whole schema through src/root/config.ts. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv<Config>(envSchema, env);
}
