/** ResultStore round trip, expiry and the message-id index, on both KeyValueStore backends. */
import { describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/kv.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { ResultStore, resultTtlSeconds } from '../../src/results.ts';
import { testResult } from '../../kit/job-fixtures.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';
import { useFileRedis } from '../support/redis-client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redis = useFileRedis('ResultStore on Redis');

function suite(makeKv: () => KeyValueStore) {
  it('returns exactly what was saved', async () => {
    const store = new ResultStore(makeKv());
    const result = testResult();
    await store.save(result, 60);
    expect(await store.get('res-1')).toEqual(result);
    expect(await store.get('res-unknown')).toBeNull();
  });

  it('forgets a result (and its message index) after the ttl', async () => {
    const store = new ResultStore(makeKv());
    await store.save(testResult({ messageId: 'm-1' }), 0.3);
    expect(await store.resultIdForMessage('discord', 'm-1')).toBe('res-1');
    await sleep(450);
    expect(await store.get('res-1')).toBeNull();
    expect(await store.resultIdForMessage('discord', 'm-1')).toBeNull();
  });

  it('indexes the platform message after delivery, keeping the original expiry', async () => {
    const store = new ResultStore(makeKv());
    await store.save(testResult(), 0.6);
    await sleep(200);
    const updated = await store.setMessageId('res-1', '999000111');
    expect(updated?.messageId).toBe('999000111');
    expect((await store.getByMessage('discord', '999000111'))?.resultId).toBe('res-1');
    // The index is per platform: the same id on Slack is a different message.
    expect(await store.getByMessage('slack', '999000111')).toBeNull();
    await sleep(550);
    expect(await store.get('res-1')).toBeNull();
    expect(await store.getByMessage('discord', '999000111')).toBeNull();
  });

  it('moves the index when the message changes, and delete removes both', async () => {
    const store = new ResultStore(makeKv());
    await store.save(testResult({ messageId: 'old' }), 60);
    await store.setMessageId('res-1', 'new');
    expect(await store.resultIdForMessage('discord', 'old')).toBeNull();
    expect(await store.resultIdForMessage('discord', 'new')).toBe('res-1');
    await store.delete('res-1');
    expect(await store.get('res-1')).toBeNull();
    expect(await store.resultIdForMessage('discord', 'new')).toBeNull();
  });

  it('setMessageId on an unknown result is null and indexes nothing', async () => {
    const store = new ResultStore(makeKv());
    expect(await store.setMessageId('nope', 'm')).toBeNull();
    expect(await store.resultIdForMessage('discord', 'm')).toBeNull();
  });

  it('refuses to save an invalid result and reports a corrupt stored one with its id', async () => {
    const kv = makeKv();
    const store = new ResultStore(kv);
    await expect(store.save({ ...testResult(), images: [] }, 60)).rejects.toThrow();
    expect(await store.get('res-1')).toBeNull();
    await kv.set('result:res-bad', JSON.stringify({ expiresAt: 0, result: { v: 1, resultId: 'res-bad' } }), 60);
    await expect(store.get('res-bad')).rejects.toThrow(/stored result res-bad does not match/);
  });
}

describe('ResultStore on memory', () => suite(() => new MemoryKeyValueStore()));
describe.skipIf(!redis.available)('ResultStore on Redis', () => suite(() => RedisKeyValueStore.fromConfig(redis.client(), { QUEUE_PREFIX: uniquePrefix('results') })));

describe('result ttl', () => {
  it('is RESULT_TTL_DAYS in seconds', () => {
    expect(resultTtlSeconds({ RESULT_TTL_DAYS: 7 })).toBe(604_800);
  });
});
