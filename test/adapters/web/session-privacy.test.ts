/**
 * A web session id is a bearer secret, so Redis must never hold it: a job, its result, the
 * gallery and the queue's limit keys know the session by a keyed hash of it. Checked the way an
 * attacker would look: every key name and every value in Redis, after a session has queued a
 * job, got a result and pressed a button on it.
 */
import type { RedisClient } from '../../../src/redis.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { WebIdentity } from '../../../adapters/web/identity.ts';
import { encodeAction } from '../../../src/actions.ts';
import { MemoryKeyValueStore } from '../../../src/kv-memory.ts';
import { RedisKeyValueStore } from '../../../src/kv-redis.ts';
import { BullmqJobQueue } from '../../../src/queue/bullmq-queue.ts';
import { silentLogger, useQueueHarness } from '../../support/queue-harness.ts';
import { Browser, startWebServer, type WebServer } from '../../support/web-server.ts';

const h = useQueueHarness('web-session-privacy');
let server: WebServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Every key of the database with everything stored under it, as one text. */
async function dumpRedis(redis: RedisClient): Promise<string> {
  const out: string[] = [];
  for (const key of await redis.keys('*')) {
    const type = await redis.type(key);
    const value =
      type === 'string' ? await redis.get(key)
      : type === 'hash' ? await redis.hgetall(key)
      : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
      : type === 'list' ? await redis.lrange(key, 0, -1)
      : type === 'set' ? await redis.smembers(key)
      : type === 'stream' ? await redis.xrange(key, '-', '+')
      : `(${type})`;
    out.push(`${key} = ${JSON.stringify(value)}`);
  }
  return out.join('\n');
}

describe.skipIf(!h.available)('web session ids are never stored', () => {
  it('job data, results, the gallery and the limit keys hold a keyed hash of the session, and the session still finds its work', async () => {
    const redis = h.connection();
    const config = h.config();
    const kv = RedisKeyValueStore.fromConfig(redis, config);
    server = await startWebServer({ env: { REDIS_URL: config.REDIS_URL!, QUEUE_PREFIX: config.QUEUE_PREFIX }, kv, queue: (c) => new BullmqJobQueue({ config: c, redis, logger: silentLogger }) });
    const browser = new Browser(server.url);

    const queued = await browser.command('/imagine a red circle on a blue background --n 2', 'request-0001');
    expect(queued).toMatchObject({ kind: 'queued', duplicate: false });
    const session = browser.session;
    expect(session).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const identity = await WebIdentity.load(kv);
    const userId = identity.userId(session);
    expect(userId).not.toBe(session);
    const [job] = await server.queue.userJobs(userId);
    expect(job.jobId).toBe(queued.jobId);
    expect(job.payload.origin).toMatchObject({ platform: 'web', userId, channelId: userId });

    const result = await server.finish(job.jobId, job.payload);
    let gallery: { results: { resultId: string }[] } = { results: [] };
    for (let i = 0; i < 50 && gallery.results.length === 0; i++) gallery = await (await browser.request('/api/gallery')).json();
    expect(gallery.results.map((r) => r.resultId)).toEqual([result.resultId]);
    expect(await browser.request(`/api/press`, { body: { id: encodeAction({ action: 'reseed', resultId: result.resultId }) } }).then((r) => r.json())).toMatchObject({ kind: 'queued' });

    const everything = await dumpRedis(redis);
    expect(everything).toContain(userId);
    expect(everything).not.toContain(session);
  });

  it('the hash key is made once per install and kept: a restart maps a session to the same user, another install does not', async () => {
    const kv = new MemoryKeyValueStore();
    const [a, b] = await Promise.all([WebIdentity.load(kv), WebIdentity.load(kv)]);
    expect(a.userId('AAAAAAAAAAAAAAAAAAAAAA')).toBe(b.userId('AAAAAAAAAAAAAAAAAAAAAA'));
    expect((await WebIdentity.load(kv)).userId('AAAAAAAAAAAAAAAAAAAAAA')).toBe(a.userId('AAAAAAAAAAAAAAAAAAAAAA'));
    expect((await WebIdentity.load(new MemoryKeyValueStore())).userId('AAAAAAAAAAAAAAAAAAAAAA')).not.toBe(a.userId('AAAAAAAAAAAAAAAAAAAAAA'));
    expect(a.userId('AAAAAAAAAAAAAAAAAAAAAA')).not.toBe(a.userId('BBBBBBBBBBBBBBBBBBBBBB'));
    await kv.set('web:identity-key', 'short', 0);
    await expect(WebIdentity.load(kv)).rejects.toThrow("the web playground's identity key (web:identity-key) is missing or damaged in the key-value store");
  });
});
