/** Both KeyValueStore backends obey the same TTL rules (the local mode must behave like a fleet). */
import { describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/kv.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { RedisKeyValueStore, kvNamespace } from '../../src/kv-redis.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';
import { useFileRedis } from '../support/redis-client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redis = useFileRedis('Redis-backed KV tests');

function sharedContract(make: () => KeyValueStore) {
  it('get returns what set stored; an unknown key is null', async () => {
    const kv = make();
    await kv.set('a', 'héllo ✨ 世界', 0);
    expect(await kv.get('a')).toBe('héllo ✨ 世界');
    expect(await kv.get('missing')).toBeNull();
  });

  it('expires a key after its ttl (fractions of a second allowed)', async () => {
    const kv = make();
    await kv.set('short', 'x', 0.25);
    expect(await kv.get('short')).toBe('x');
    await sleep(400);
    expect(await kv.get('short')).toBeNull();
  });

  it('ttl 0 means no expiry, and a later set replaces both value and ttl', async () => {
    const kv = make();
    await kv.set('k', 'first', 0.2);
    await kv.set('k', 'second', 0);
    await sleep(350);
    expect(await kv.get('k')).toBe('second');
    await kv.set('k', 'third', 0.2);
    await sleep(350);
    expect(await kv.get('k')).toBeNull();
  });

  it('setIfAbsent creates once, refuses while present, and succeeds again after expiry', async () => {
    const kv = make();
    expect(await kv.setIfAbsent('once', 'a', 0.25)).toBe(true);
    expect(await kv.setIfAbsent('once', 'b', 10)).toBe(false);
    expect(await kv.get('once')).toBe('a');
    await sleep(400);
    expect(await kv.setIfAbsent('once', 'c', 0)).toBe(true);
    expect(await kv.get('once')).toBe('c');
  });

  it('setIfAbsent is atomic: of 50 concurrent callers exactly one wins', async () => {
    const kv = make();
    const wins = await Promise.all(Array.from({ length: 50 }, (_, i) => kv.setIfAbsent('race', String(i), 5)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await kv.get('race')).toBe(String(wins.indexOf(true)));
  });

  it('del removes; deleting a missing key is fine', async () => {
    const kv = make();
    await kv.set('gone', '1', 0);
    await kv.del('gone');
    await kv.del('never-there');
    expect(await kv.get('gone')).toBeNull();
  });

  it('rejects negative and non-finite ttls', async () => {
    const kv = make();
    await expect(kv.set('bad', 'x', -1)).rejects.toThrow(RangeError);
    await expect(kv.set('bad', 'x', Number.NaN)).rejects.toThrow(RangeError);
    await expect(kv.setIfAbsent('bad', 'x', Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
    expect(await kv.get('bad')).toBeNull();
  });
}

describe('MemoryKeyValueStore', () => {
  sharedContract(() => new MemoryKeyValueStore());

  it('sweeps expired entries without being read (no unbounded growth)', async () => {
    let now = 1_000;
    const kv = new MemoryKeyValueStore(() => now);
    for (let i = 0; i < 300; i++) await kv.set(`k${i}`, 'v', 1);
    now += 1_001;
    for (let i = 0; i < 256; i++) await kv.set(`fresh${i}`, 'v', 0);
    expect(kv.size).toBe(256);
  });
});

describe.skipIf(!redis.available)('RedisKeyValueStore', () => {
  sharedContract(() => new RedisKeyValueStore(redis.client(), kvNamespace({ QUEUE_PREFIX: uniquePrefix('kv') })));

  it('keeps keys under the queue prefix, with the TTL in Redis', async () => {
    const prefix = uniquePrefix('kv');
    const kv = RedisKeyValueStore.fromConfig(redis.client(), { QUEUE_PREFIX: prefix });
    await kv.set('secret:job1', 'v', 900);
    expect(kv.redisKey('secret:job1')).toBe(`${prefix}:kv:secret:job1`);
    expect(await redis.client().get(`${prefix}:kv:secret:job1`)).toBe('v');
    const ttl = await redis.client().ttl(`${prefix}:kv:secret:job1`);
    expect(ttl).toBeGreaterThan(895);
    expect(ttl).toBeLessThanOrEqual(900);
    await kv.set('forever', 'v', 0);
    expect(await redis.client().ttl(`${prefix}:kv:forever`)).toBe(-1);
  });
});
