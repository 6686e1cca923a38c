/**
 * KeyValueStore on Redis. Keys live under the queue prefix (`{imagine}:kv:<key>`): the hash
 * tag puts them in the same cluster slot as the queue, so scripts may touch both.
 */
import type { Redis } from 'ioredis';
import type { Config } from './config.ts';
import type { KeyValueStore } from './kv.ts';
import { ttlToMs } from './kv-ttl.ts';

export function kvNamespace(config: Pick<Config, 'QUEUE_PREFIX'>): string {
  return `${config.QUEUE_PREFIX}:kv:`;
}

export class RedisKeyValueStore implements KeyValueStore {
  constructor(
    private readonly redis: Redis,
    /** Prepended to every key; see kvNamespace(). */
    readonly namespace: string,
  ) {}

  static fromConfig(redis: Redis, config: Pick<Config, 'QUEUE_PREFIX'>): RedisKeyValueStore {
    return new RedisKeyValueStore(redis, kvNamespace(config));
  }

  /** The Redis key a store key is kept under (for tests and operators). */
  redisKey(key: string): string {
    return this.namespace + key;
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.redisKey(key));
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    const ms = ttlToMs(ttlS);
    // A plain SET drops any previous TTL, which is what ttl 0 ("no expiry") must mean.
    if (ms === 0) await this.redis.set(this.redisKey(key), value);
    else await this.redis.set(this.redisKey(key), value, 'PX', ms);
  }

  async setIfAbsent(key: string, value: string, ttlS: number): Promise<boolean> {
    const ms = ttlToMs(ttlS);
    const reply = ms === 0 ? await this.redis.set(this.redisKey(key), value, 'NX') : await this.redis.set(this.redisKey(key), value, 'PX', ms, 'NX');
    return reply === 'OK';
  }

  async del(key: string): Promise<void> {
    await this.redis.del(this.redisKey(key));
  }
}
