/** Editor links from chat (src/edit-links.ts) on a real Redis: signed, expiring, one browser, one job. */
import { describe, expect, it } from 'vitest';
import { EditLinks, editLinkUrl, LINK_TTL_S } from '../../src/edit-links.ts';
import { RedisKeyValueStore, kvNamespace } from '../../src/kv-redis.ts';
import type { Origin } from '../../src/jobs.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';
import { useFileRedis } from '../support/redis-client.ts';

const redis = useFileRedis('editor link tests');
const alice: Origin = { platform: 'discord', workspaceId: '1000001', channelId: '2000002', threadId: '3000003', userId: '4000004', userName: 'alice', platformData: { applicationId: '5000005' } };

describe.skipIf(!redis.available)('editor links', () => {
  const store = () => new RedisKeyValueStore(redis.client(), kvNamespace({ QUEUE_PREFIX: uniquePrefix('links') }));

  it('a link names the result, image and presser; the first browser claims it and only that one may use it, once', async () => {
    const kv = store();
    const links = await EditLinks.load(kv);
    const token = await links.create('r_abc', 0, alice);
    const link = await links.claim(token, 'browser-1');
    expect(link).toMatchObject({ resultId: 'r_abc', index: 0, origin: alice });
    // The same browser again (a reload) still has it; another browser does not.
    expect(await links.claim(token, 'browser-1')).toMatchObject({ resultId: 'r_abc' });
    expect(await links.claim(token, 'browser-2')).toBe('claimed');
    expect(typeof link === 'object' && (await links.spend(link))).toBe(true);
    expect(typeof link === 'object' && (await links.spend(link))).toBe(false);
    expect(await links.claim(token, 'browser-1')).toBe('spent');
  });

  it('refuses a changed token, a token of another install, and an expired one', async () => {
    const kv = store();
    const links = await EditLinks.load(kv);
    const token = await links.create('r_abc', 1, alice);
    const [body, sig] = token.split('.');
    const part = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = `${Buffer.from(JSON.stringify({ ...part, r: 'r_other' })).toString('base64url')}.${sig}`;
    expect(await links.read(forged)).toBe('invalid');
    expect(await links.read(`${body}.${sig.slice(0, -2)}AA`)).toBe('invalid');
    expect(await links.read('garbage')).toBe('invalid');
    // Another install: its own key in its own store.
    const other = await EditLinks.load(store());
    expect(await other.read(token)).toBe('invalid');
    // Half an hour later.
    const later = await EditLinks.load(kv, () => Date.now() + LINK_TTL_S * 1000 + 1000);
    expect(await later.read(token)).toBe('expired');
    // The key is per install: a second process on the same store reads the same links.
    expect(await (await EditLinks.load(kv)).read(token)).toMatchObject({ resultId: 'r_abc', index: 1 });
  });

  it('a link that was not queued after all can be spent again', async () => {
    const links = await EditLinks.load(store());
    const link = await links.claim(await links.create('r_x', 0, alice), 'b');
    if (typeof link === 'string') throw new Error(link);
    expect(await links.spend(link)).toBe(true);
    await links.unspend(link);
    expect(await links.spend(link)).toBe(true);
  });

  it('builds the address under PUBLIC_URL', () => {
    expect(editLinkUrl('https://imagine.example.com/', 'a.b')).toBe('https://imagine.example.com/edit?link=a.b');
  });
});
