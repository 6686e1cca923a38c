/**
 * Batched key-value reads and writes (getMany / setMany): the same answers and TTL rules as
 * one call per key, on both backends, and the fallback for stores without batch methods.
 */
import { describe, expect, it } from 'vitest';
import { getMany, setMany, type KeyValueStore } from '../../src/kv.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { RedisKeyValueStore, kvNamespace } from '../../src/kv-redis.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';
import { useFileRedis } from '../support/redis-client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redis = useFileRedis('batched KV tests on Redis');

/** A store with only the four required methods, as a third-party or test store may be. */
function plainStore(): KeyValueStore {
  const inner = new MemoryKeyValueStore();
  return {
    get: (k) => inner.get(k),
    set: (k, v, t) => inner.set(k, v, t),
    setIfAbsent: (k, v, t) => inner.setIfAbsent(k, v, t),
    del: (k) => inner.del(k),
  };
}

function contract(make: () => KeyValueStore) {
  it('getMany answers in key order, null where absent, and [] for no keys', async () => {
    const kv = make();
    await kv.set('a', 'héllo ✨', 0);
    await kv.set('c', '3', 10);
    expect(await getMany(kv, ['c', 'missing', 'a', 'c'])).toEqual(['3', null, 'héllo ✨', '3']);
    expect(await getMany(kv, [])).toEqual([]);
  });

  it('setMany applies writes in order and says which set-if-absent writes took effect', async () => {
    const kv = make();
    await kv.set('taken', 'old', 0);
    const applied = await setMany(kv, [
      { key: 'plain', value: 'p', ttlS: 0 },
      { key: 'taken', value: 'new', ttlS: 10, ifAbsent: true },
      { key: 'fresh', value: 'f', ttlS: 10, ifAbsent: true },
      // A later write in the same batch sees the earlier one.
      { key: 'fresh', value: 'again', ttlS: 10, ifAbsent: true },
      { key: 'plain', value: 'replaced', ttlS: 0 },
    ]);
    expect(applied).toEqual([true, false, true, false, true]);
    expect(await getMany(kv, ['plain', 'taken', 'fresh'])).toEqual(['replaced', 'old', 'f']);
    expect(await setMany(kv, [])).toEqual([]);
  });

  it('setMany keeps each write’s ttl: fractions expire, 0 never does and clears an earlier ttl', async () => {
    const kv = make();
    await kv.set('cleared', 'x', 0.25);
    await setMany(kv, [
      { key: 'short', value: 's', ttlS: 0.25 },
      { key: 'nx-short', value: 'n', ttlS: 0.25, ifAbsent: true },
      { key: 'forever', value: 'f', ttlS: 0 },
      { key: 'cleared', value: 'y', ttlS: 0 },
    ]);
    expect(await getMany(kv, ['short', 'nx-short', 'forever', 'cleared'])).toEqual(['s', 'n', 'f', 'y']);
    await sleep(400);
    expect(await getMany(kv, ['short', 'nx-short', 'forever', 'cleared'])).toEqual([null, null, 'f', 'y']);
  });

  it('setMany refuses a bad ttl before writing anything', async () => {
    const kv = make();
    await expect(setMany(kv, [{ key: 'first', value: '1', ttlS: 5 }, { key: 'bad', value: 'x', ttlS: -1 }])).rejects.toThrow(RangeError);
    expect(await getMany(kv, ['first', 'bad'])).toEqual([null, null]);
  });

  it('a set-if-absent in a batch is atomic: of 30 concurrent batches exactly one claims the key', async () => {
    const kv = make();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => setMany(kv, [{ key: `side-${i}`, value: 's', ttlS: 5 }, { key: 'claim', value: String(i), ttlS: 5, ifAbsent: true }])),
    );
    const winners = results.map((r, i) => (r[1] ? i : -1)).filter((i) => i >= 0);
    expect(winners).toHaveLength(1);
    expect(await kv.get('claim')).toBe(String(winners[0]));
    // The companion writes land whether or not their batch won the claim.
    expect((await getMany(kv, results.map((_, i) => `side-${i}`))).every((v) => v === 's')).toBe(true);
  });
}

describe('MemoryKeyValueStore batches', () => contract(() => new MemoryKeyValueStore()));

describe('stores without batch methods (one call per key)', () => {
  // The fallback writes one by one, so a bad ttl in the middle is only refused when reached.
  const kv = plainStore();
  it('has no batch methods', () => {
    expect(kv.getMany).toBeUndefined();
    expect(kv.setMany).toBeUndefined();
  });
  it('getMany and setMany still answer as the batch methods do', async () => {
    await kv.set('taken', 'old', 0);
    expect(await setMany(kv, [{ key: 'taken', value: 'new', ttlS: 1, ifAbsent: true }, { key: 'n', value: 'v', ttlS: 0 }])).toEqual([false, true]);
    expect(await getMany(kv, ['n', 'taken', 'nope'])).toEqual(['v', 'old', null]);
  });
});

describe.skipIf(!redis.available)('RedisKeyValueStore batches', () => {
  contract(() => new RedisKeyValueStore(redis.client(), kvNamespace({ QUEUE_PREFIX: uniquePrefix('kvb') })));

  it('writes under the namespace with the TTL in Redis, in one command', async () => {
    const prefix = uniquePrefix('kvb');
    const kv = RedisKeyValueStore.fromConfig(redis.client(), { QUEUE_PREFIX: prefix });
    // Once before watching, so the server has the script cached and the batch below is one EVALSHA.
    await setMany(kv, [{ key: 'warm', value: '1', ttlS: 1 }]);
    const monitor = await redis.client().duplicate().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(String(args[0]).toLowerCase()));
    await setMany(kv, [
      { key: 'delivery:j1', value: 'claim', ttlS: 600, ifAbsent: true },
      { key: 'result:r1', value: '{}', ttlS: 900 },
    ]);
    await getMany(kv, ['delivery:j1', 'result:r1']);
    await sleep(50);
    monitor.disconnect();
    // What the client sent: one script call and one MGET (the SETs are the script's own).
    expect(seen.filter((c) => c !== 'set')).toEqual(['evalsha', 'mget']);
    expect(seen.filter((c) => c === 'set')).toHaveLength(2);
    expect(await redis.client().get(`${prefix}:kv:delivery:j1`)).toBe('claim');
    const ttl = await redis.client().pttl(`${prefix}:kv:result:r1`);
    expect(ttl).toBeGreaterThan(895_000);
    expect(ttl).toBeLessThanOrEqual(900_000);
  });
});
