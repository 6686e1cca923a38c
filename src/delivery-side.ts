/**
 * The delivery side of a process that holds platform connections (role bot, role all): a
 * DeliveryService over its deliverers, fed by the Redis delivery queue and progress channel
 * when there is Redis, or directly by the local worker (LocalDeliveryOutbox) when there is not.
 */
import type { ArtifactStore } from './artifacts.ts';
import type { Config } from './config.ts';
import { DelivererRegistry } from './deliverer-registry.ts';
import type { Deliverer } from './delivery.ts';
import type { RetryPolicy } from './delivery-retry.ts';
import { DeliveryService } from './delivery-service.ts';
import type { KeyValueStore } from './kv.ts';
import { LocalDeliveryOutbox } from './local-delivery.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { DeliveryConsumer } from './queue/delivery-queue.ts';
import { closeRedis, duplicateRedis, type RedisClient } from './redis.ts';
import { ResultStore, resultTtlSeconds } from './results.ts';

export interface DeliverySideOptions {
  config: Config;
  deliverers: Deliverer[] | DelivererRegistry;
  kv: KeyValueStore;
  artifacts: ArtifactStore;
  metrics: Pick<Metrics, 'deliveries'>;
  logger: Logger;
  /** Consume the Redis delivery queue; null: the in-process outbox (one-process mode without Redis). */
  redis: RedisClient | null;
  retryPolicy?: RetryPolicy;
  /** Delivery-queue lock timings (tests shorten them so a killed bot's task moves on in seconds). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface DeliverySide {
  readonly service: DeliveryService;
  /** Set without Redis: the outbox a worker in this process hands its tasks to. */
  readonly localOutbox: LocalDeliveryOutbox | null;
  /** Stops taking tasks; posts in flight finish first. */
  close(): Promise<void>;
}

export async function startDeliverySide(opts: DeliverySideOptions): Promise<DeliverySide> {
  const { config, logger } = opts;
  const log = logger.child({ component: 'delivery' });
  const deliverers = opts.deliverers instanceof DelivererRegistry ? opts.deliverers : new DelivererRegistry(opts.deliverers);
  const service = new DeliveryService({
    kv: opts.kv,
    results: new ResultStore(opts.kv),
    artifacts: opts.artifacts,
    deliverers,
    metrics: opts.metrics,
    logger: log,
    ttlS: resultTtlSeconds(config),
    retryPolicy: opts.retryPolicy,
  });
  if (!opts.redis) {
    const localOutbox = new LocalDeliveryOutbox(service, log);
    return { service, localOutbox, close: () => localOutbox.drain() };
  }
  // BullMQ's blocking reads need a connection whose commands wait out outages.
  const connection = duplicateRedis(opts.redis, 'delivery');
  connection.on('error', (err: Error) => log.warn({ err: { message: err.message } }, 'delivery connection error'));
  const consumer = new DeliveryConsumer({ config, connection, service, logger: log, lockDurationMs: opts.lockDurationMs, stalledIntervalMs: opts.stalledIntervalMs });
  await consumer.start();
  log.info({ platforms: deliverers.platforms() }, 'delivering results');
  return {
    service,
    localOutbox: null,
    close: async () => {
      await consumer.close();
      await closeRedis(connection);
    },
  };
}
