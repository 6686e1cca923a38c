/**
 * Platform secrets never reach BullMQ's clear-text job data: after enqueue, processing,
 * failure and cancel, every key in Redis is read by type and the token / response_url appears
 * only in its own expiring `secret:<jobId>` key.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../src/redis.ts';
import { describe, expect, it } from 'vitest';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { loadSecret } from '../../src/platform-secrets.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';
import { useQueueHarness } from '../support/queue-harness.ts';
import { DISCORD_TOKEN_TTL_S, interactionTokenGrant } from '../../adapters/discord/secret.ts';
import { responseUrlGrant, SLACK_RESPONSE_URL_TTL_S } from '../../adapters/slack/secret.ts';

const h = useQueueHarness('secrets');

/** Every key in the database with all of its content, read according to its type. */
async function dumpAll(redis: RedisClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let content: unknown;
      switch (type) {
        case 'string':
          content = await redis.get(key);
          break;
        case 'hash':
          content = await redis.hgetall(key);
          break;
        case 'list':
          content = await redis.lrange(key, 0, -1);
          break;
        case 'set':
          content = await redis.smembers(key);
          break;
        case 'zset':
          content = await redis.zrange(key, 0, -1, 'WITHSCORES');
          break;
        case 'stream':
          content = await redis.xrange(key, '-', '+');
          break;
        case 'none':
          continue; // expired between SCAN and TYPE
        default:
          throw new Error(`unexpected key type ${type} for ${key}`);
      }
      out.set(key, `${key}\n${JSON.stringify(content)}`);
    }
  } while (cursor !== '0');
  return out;
}

const holding = (dump: Map<string, string>, needle: string) => [...dump].filter(([, text]) => text.includes(needle)).map(([k]) => k);

describe.skipIf(!h.available)('platform secrets in Redis', () => {
  it('appear only in their own secret:<jobId> key, with a TTL no longer than the credential lives', async () => {
    const config = h.config({ JOB_ATTEMPTS: '1' });
    const q = h.queue(config);
    const discordToken = `aW50ZXJhY3Rpb246${randomBytes(48).toString('base64url')}`;
    const responseUrl = `https://hooks.slack.com/commands/T0001/123456/${randomBytes(18).toString('hex')}`;
    const otherToken = `aW50ZXJhY3Rpb246${randomBytes(48).toString('base64url')}`;

    const discordJob = await q.enqueue(txt2imgPayload({ origin: { userId: 'd1', platform: 'discord', eventId: 'ev-1' } }), {
      dedupeId: 'ev-1',
      secret: interactionTokenGrant(discordToken),
    });
    const slackJob = await q.enqueue(txt2imgPayload({ origin: { userId: 's1', platform: 'slack', workspaceId: 'T0001', channelId: 'C1' } }), {
      secret: responseUrlGrant(responseUrl),
    });
    if (!discordJob.ok || !slackJob.ok) throw new Error('refused');

    // The worker side finds them where the queue put them.
    const kv = RedisKeyValueStore.fromConfig(h.connection(), config);
    expect(await loadSecret(kv, discordJob.jobId)).toEqual({ platform: 'discord', interactionToken: discordToken });
    expect(await loadSecret(kv, slackJob.jobId)).toEqual({ platform: 'slack', responseUrl });

    // Drive the jobs through BullMQ so completed/failed records and the event stream exist too.
    const worker = await h.worker(config);
    await worker.waitStarted(1);
    await worker.complete(discordJob.jobId);
    await worker.waitStarted(2);
    await worker.fail(slackJob.jobId, 'generation failed');
    await worker.close();
    // And one left waiting.
    const waitingJob = await q.enqueue(txt2imgPayload({ origin: { userId: 'd2' } }), { secret: interactionTokenGrant(otherToken) });
    if (!waitingJob.ok) throw new Error('refused');
    expect(await q.position(waitingJob.jobId)).toBe(1);

    const redis = h.connection();
    const dump = await dumpAll(redis);
    expect(dump.size).toBeGreaterThan(5);
    const discordKey = `${config.QUEUE_PREFIX}:kv:secret:${discordJob.jobId}`;
    const slackKey = `${config.QUEUE_PREFIX}:kv:secret:${slackJob.jobId}`;
    expect(holding(dump, discordToken)).toEqual([discordKey]);
    expect(holding(dump, responseUrl)).toEqual([slackKey]);
    expect(holding(dump, otherToken)).toEqual([`${config.QUEUE_PREFIX}:kv:secret:${waitingJob.jobId}`]);
    // The job data does exist in clear text; it just holds no secret.
    expect(holding(dump, 'a lighthouse at dusk').length).toBeGreaterThanOrEqual(3);

    const discordTtl = await redis.ttl(discordKey);
    const slackTtl = await redis.ttl(slackKey);
    expect(discordTtl).toBeGreaterThan(0);
    expect(discordTtl).toBeLessThanOrEqual(DISCORD_TOKEN_TTL_S);
    expect(DISCORD_TOKEN_TTL_S).toBe(900);
    expect(slackTtl).toBeGreaterThan(DISCORD_TOKEN_TTL_S);
    expect(slackTtl).toBeLessThanOrEqual(SLACK_RESPONSE_URL_TTL_S);
    expect(SLACK_RESPONSE_URL_TTL_S).toBe(1800);
  });

  it('a cancelled waiting job takes its secret with it', async () => {
    const config = h.config();
    const q = h.queue(config);
    const token = `aW50ZXJhY3Rpb246${randomBytes(48).toString('base64url')}`;
    const o = await q.enqueue(txt2imgPayload({ origin: { userId: 'x' } }), { secret: interactionTokenGrant(token) });
    if (!o.ok) throw new Error('refused');
    expect(await q.cancel(o.jobId, 'x')).toEqual({ ok: true, state: 'removed' });
    expect(holding(await dumpAll(h.connection()), token)).toEqual([]);
  });
});
