/**
 * Cancelling a job that is already running. Two channels, because each alone falls short:
 * a flag key is the source of truth (it survives a worker's reconnect and can be polled
 * between denoising steps), and a pub/sub message on `<prefix>:<queue>:cancel-requests`
 * carrying the job id lets a worker abort within milliseconds instead of at its next poll.
 * A pub/sub message sent while a worker is disconnected is lost, so workers must also check
 * the flag (isCancelRequested) when they start a job and between steps.
 */
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { closeRedis, duplicateRedis, type RedisClient } from '../redis.ts';
import { queueKeys, type QueueKeyConfig } from './keys.ts';

/** Long enough to cover every attempt of the job plus its backoff. */
export function cancelFlagTtlSeconds(config: Pick<Config, 'JOB_TIMEOUT_S' | 'JOB_ATTEMPTS'>): number {
  return config.JOB_TIMEOUT_S * config.JOB_ATTEMPTS + 600;
}

export async function requestCancel(redis: RedisClient, config: QueueKeyConfig & Pick<Config, 'JOB_TIMEOUT_S' | 'JOB_ATTEMPTS'>, jobId: string): Promise<void> {
  const keys = queueKeys(config);
  await redis.set(keys.cancelFlag(jobId), String(Date.now()), 'EX', cancelFlagTtlSeconds(config));
  await redis.publish(keys.cancelChannel, jobId);
}

export async function isCancelRequested(redis: RedisClient, config: QueueKeyConfig, jobId: string): Promise<boolean> {
  return (await redis.exists(queueKeys(config).cancelFlag(jobId))) === 1;
}

/** Called by the worker once a cancelled job has stopped. */
export async function clearCancel(redis: RedisClient, config: QueueKeyConfig, jobId: string): Promise<void> {
  await redis.del(queueKeys(config).cancelFlag(jobId));
}

export interface CancelSubscription {
  close(): Promise<void>;
}

/**
 * Calls onCancel(jobId) for every cancel request published from now on. Uses its own
 * connection (a subscribed connection can run nothing else), duplicated from `redis`.
 * Resolves once the subscription is active.
 */
export async function subscribeCancels(
  redis: RedisClient,
  config: QueueKeyConfig,
  onCancel: (jobId: string) => void,
  logger?: Pick<Logger, 'warn'>,
): Promise<CancelSubscription> {
  const channel = queueKeys(config).cancelChannel;
  const subscriber = duplicateRedis(redis, 'cancel-subscriber');
  // Without a listener an 'error' event would crash the process; ioredis reconnects and resubscribes by itself.
  subscriber.on('error', (err: Error) => logger?.warn({ channel, err: { message: err.message } }, 'cancel subscription connection error'));
  subscriber.on('message', (ch: string, jobId: string) => {
    if (ch === channel) onCancel(jobId);
  });
  await subscriber.subscribe(channel);
  return {
    close: () => closeRedis(subscriber),
  };
}
