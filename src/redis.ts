/**
 * ioredis connections from REDIS_URL. One factory so every connection gets the same bounded
 * connect timeout, reconnect backoff and password-free error logging.
 *
 * Roles differ in one way BullMQ cares about: a worker's connection runs blocking commands
 * and must retry forever (`maxRetriesPerRequest: null`, no command timeout); a client
 * (adapters enqueueing, the cancel publisher) should fail a command after a bounded time so
 * a user hears "try again" instead of waiting on a dead Redis.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';

export type RedisRole = 'client' | 'worker' | 'subscriber';

export interface RedisConnectOptions {
  role?: RedisRole;
  /** Shown in CLIENT LIST and in log lines. */
  name?: string;
  logger?: Logger;
  connectTimeoutMs?: number;
  /** Client role only: a command that gets no answer in this time fails. */
  commandTimeoutMs?: number;
}

/** The URL with any user/password replaced, safe for logs and error messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[credentials]@');
}

/** Exponential backoff with jitter, capped: 100 ms, 200 ms, ... 5 s. Retries never stop; the process decides when to give up. */
export function reconnectDelayMs(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.max(0, attempt - 1), 5_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

let defaultLogger: Logger | undefined;

export function redisOptions(opts: RedisConnectOptions = {}): RedisOptions {
  const role = opts.role ?? 'client';
  const blocking = role !== 'client';
  return {
    connectionName: opts.name ? `imagine:${opts.name}` : `imagine:${role}`,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    maxRetriesPerRequest: blocking ? null : 3,
    commandTimeout: blocking ? undefined : (opts.commandTimeoutMs ?? 10_000),
    enableReadyCheck: true,
    retryStrategy: reconnectDelayMs,
    // After a failover the old primary answers READONLY: reconnect (DNS/sentinel finds the new one) and resend.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
}

/**
 * A new connection. Errors are logged (never thrown as unhandled 'error' events) with the
 * role, name and redacted URL; repeated identical errors while reconnecting are logged once.
 */
export function createRedis(url: string, opts: RedisConnectOptions = {}): Redis {
  const logger = opts.logger ?? (defaultLogger ??= createLogger({ name: 'redis' }));
  const context = { redis: redactRedisUrl(url), role: opts.role ?? 'client', connection: opts.name };
  const client = new Redis(url, redisOptions(opts));
  let lastError = '';
  client.on('error', (err: Error & { code?: string }) => {
    const text = `${err.code ?? ''} ${err.message}`;
    if (text === lastError) return;
    lastError = text;
    logger.warn({ ...context, err: { message: err.message, code: err.code } }, 'redis connection error');
  });
  client.on('ready', () => {
    if (lastError) logger.info(context, 'redis connection restored');
    lastError = '';
  });
  return client;
}

/** A connection for the configured REDIS_URL; throws a clear error when it is not set. */
export function redisFromConfig(config: Pick<Config, 'REDIS_URL'>, opts: RedisConnectOptions = {}): Redis {
  if (!config.REDIS_URL) throw new Error('REDIS_URL is not set: the Redis-backed queue needs it (or run without it for the one-process local mode)');
  return createRedis(config.REDIS_URL, opts);
}

/** Close politely, and hard if Redis does not answer (a dead server must not hang shutdown). */
export async function closeRedis(client: Redis, timeoutMs = 2_000): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().then(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
  } catch {
    /* quitting a broken connection fails; disconnect below */
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
