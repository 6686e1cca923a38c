/**
 * One client address cannot hold more than the per-user caps by minting sessions or sending no
 * cookie: the playground counts every job against its session and against its address, on both
 * queue backends. X-Forwarded-For decides the address only when TRUST_PROXY says proxies stand in
 * front, and then only the entries those proxies wrote.
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { addressGroup, clientAddress } from '../../../adapters/web/client-address.ts';
import type { Config } from '../../../src/config.ts';
import { BullmqJobQueue } from '../../../src/queue/bullmq-queue.ts';
import { refusalMessage } from '../../../src/queue/limits.ts';
import { silentLogger, useQueueHarness } from '../../support/queue-harness.ts';
import { Browser, startWebServer, type WebServer } from '../../support/web-server.ts';

const h = useQueueHarness('web-address-limits');
let server: WebServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const LIMITS = { LIMIT_USER_QUEUED: '3', LIMIT_USER_PER_MINUTE: '100' };

const backends: [string, boolean, (env: Record<string, string>) => Promise<WebServer>][] = [
  ['in-process queue', true, (env) => startWebServer({ env })],
  [
    'BullMQ on Redis',
    h.available,
    (env) => {
      const config = h.config();
      return startWebServer({ env: { ...env, REDIS_URL: config.REDIS_URL!, QUEUE_PREFIX: config.QUEUE_PREFIX }, queue: (c: Config) => new BullmqJobQueue({ config: c, redis: h.connection(), logger: silentLogger }) });
    },
  ],
];

describe.each(backends)('per-address limit (%s)', (_name, available, start) => {
  it.skipIf(!available)('a cookie-less flood queues no more than one user may; every refusal says why', async () => {
    server = await start(LIMITS);
    const replies = [];
    for (let i = 0; i < 12; i++) replies.push(await new Browser(server.url).command(`/imagine flood ${i}`));
    expect(replies.filter((r) => r.kind === 'queued')).toHaveLength(3);
    const refused = replies.filter((r) => r.kind !== 'queued');
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r).toEqual({ kind: 'message', code: 'client-queued-limit', message: refusalMessage('client-queued-limit', server.config) });
    expect(refused[0].message).toBe('Your network address already has 3 image jobs queued or running (from this or other browser sessions), the most allowed at once. Wait for one to finish, then try again.');
    expect((await server.queue.counts()).waiting).toBe(3);
  });

  it.skipIf(!available)('a cancelled job gives its slot back to the address as well as to the session', async () => {
    server = await start(LIMITS);
    const first = new Browser(server.url);
    for (let i = 0; i < 3; i++) expect((await first.command(`/imagine mine ${i}`)).kind).toBe('queued');
    const other = new Browser(server.url);
    expect((await other.command('/imagine refused')).code).toBe('client-queued-limit');
    expect(await first.command('/cancel')).toMatchObject({ kind: 'cancelled' });
    expect((await other.command('/imagine now there is room')).kind).toBe('queued');
  });

  it.skipIf(!available)('sessions from one address share the per-minute cap too', async () => {
    server = await start({ LIMIT_USER_QUEUED: '100', LIMIT_USER_PER_MINUTE: '4' });
    const [one, two] = [new Browser(server.url), new Browser(server.url)];
    for (let i = 0; i < 2; i++) expect((await one.command(`/imagine one ${i}`)).kind).toBe('queued');
    for (let i = 0; i < 2; i++) expect((await two.command(`/imagine two ${i}`)).kind).toBe('queued');
    const refused = await two.command('/imagine one too many');
    expect(refused.code).toBe('client-rate-limit');
    expect(refused.message).toMatch(/^Your network address has started 4 image jobs in the last minute \(from this or other browser sessions\), the most allowed\. Try again in (59|60) seconds\.$/);
  });

  it.skipIf(!available)('X-Forwarded-For is ignored unless TRUST_PROXY is set, and then only the entries the proxies wrote count', async () => {
    server = await start(LIMITS);
    const spoofed = (i: number) => new Browser(server!.url, { 'x-forwarded-for': `198.51.100.${i}` });
    const ignored = [];
    for (let i = 0; i < 5; i++) ignored.push((await spoofed(i).command(`/imagine spoof ${i}`)).kind);
    expect(ignored.filter((k) => k === 'queued')).toHaveLength(3);
    await server.close();

    server = await start({ ...LIMITS, TRUST_PROXY: '1' });
    // Behind one proxy: each forwarded client has its own caps.
    for (const client of ['198.51.100.1', '198.51.100.2']) {
      const kinds = [];
      for (let i = 0; i < 4; i++) kinds.push((await new Browser(server.url, { 'x-forwarded-for': client }).command(`/imagine ${client} ${i}`)).kind);
      expect(kinds, client).toEqual(['queued', 'queued', 'queued', 'message']);
    }
    // A client writing its own entries to the left of the proxy's changes nothing.
    const forged = await new Browser(server.url, { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' }).command('/imagine forged');
    expect(forged.code).toBe('client-queued-limit');
  });
});

describe('client address', () => {
  const request = (peer: string, forwarded?: string) => ({ socket: { remoteAddress: peer }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } }) as unknown as IncomingMessage;

  it('is the peer unless proxies are trusted, then the entry that many hops from the right', () => {
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), 0)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 1.2.3.4'), 1)).toBe('1.2.3.4');
    expect(clientAddress(request('10.0.0.5', '6.6.6.6, 1.2.3.4, 10.0.0.9'), 2)).toBe('1.2.3.4');
    // Fewer entries than proxies: the leftmost there is.
    expect(clientAddress(request('10.0.0.5', '1.2.3.4'), 3)).toBe('1.2.3.4');
    expect(clientAddress(request('10.0.0.5'), 1)).toBe('10.0.0.5');
  });

  it('counts IPv4-mapped addresses as IPv4 and an IPv6 host by its /64', () => {
    expect(addressGroup('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(addressGroup('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressGroup('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressGroup('[2001:db8:1:2::7]')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('unknown')).toBe('unknown');
  });
});
