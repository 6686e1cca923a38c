/**
 * KeyValueStore on Redis. Keys live under the queue prefix (`{imagine}:kv:<key>`): the hash
 * tag puts them in the same cluster slot as the queue, so scripts may touch both.
 */
import type { RedisClient } from './redis.ts';
import type { Config } from './config.ts';
import type { KeyValueStore, KvWrite } from './kv.ts';
import { ttlToMs } from './kv-ttl.ts';
import { luaScript, runLua } from './queue/lua.ts';

/**
 * setMany as one script: atomic like MULTI, but a single command. (A MULTI goes through an
 * ioredis Pipeline, which on a connection shared with BullMQ copies its ~40 script commands
 * for every batch and costs more than the round trips it saves.)
 * KEYS: the keys; ARGV: value, ttl in ms (0 = none), '1' for set-if-absent, per key.
 * Returns 1 per write applied, 0 for a set-if-absent whose key existed.
 */
const SET_MANY = luaScript(
  'kv-set-many',
  `local out = {}
for i = 1, #KEYS do
  local value, ms, nx = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1]), ARGV[3 * i] == '1'
  local reply
  if ms > 0 and nx then reply = redis.call('SET', KEYS[i], value, 'PX', ms, 'NX')
  elseif ms > 0 then reply = redis.call('SET', KEYS[i], value, 'PX', ms)
  elseif nx then reply = redis.call('SET', KEYS[i], value, 'NX')
  else reply = redis.call('SET', KEYS[i], value) end
  out[i] = reply and 1 or 0
end
return out`,
);

export function kvNamespace(config: Pick<Config, 'QUEUE_PREFIX'>): string {
  return `${config.QUEUE_PREFIX}:kv:`;
}

export class RedisKeyValueStore implements KeyValueStore {
  constructor(
    private readonly redis: RedisClient,
    /** Prepended to every key; see kvNamespace(). */
    readonly namespace: string,
  ) {}

  static fromConfig(redis: RedisClient, config: Pick<Config, 'QUEUE_PREFIX'>): RedisKeyValueStore {
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

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.redis.mget(keys.map((k) => this.redisKey(k)));
  }

  /** The writes land together (one script runs atomically) in one round trip. */
  async setMany(writes: readonly KvWrite[]): Promise<boolean[]> {
    if (writes.length === 0) return [];
    const args = writes.flatMap((w) => [w.value, ttlToMs(w.ttlS), w.ifAbsent ? '1' : '0']);
    const replies = (await runLua(this.redis, SET_MANY, writes.map((w) => this.redisKey(w.key)), args)) as number[];
    return replies.map((r) => r === 1);
  }
}
