/**
 * Who reaches the playground at all. With Discord or Slack configured it is off unless
 * WEB_PLAYGROUND=on; with WEB_ACCESS_KEY set, nothing of it answers until the browser has
 * opened it once with ?key=<the key>, and nothing is queued for a request without the key.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { playgroundEnabled } from '../../../adapters/web/start.ts';
import { loadConfig } from '../../../src/root/config.ts';
import { MemoryKeyValueStore } from '../../../src/kv-memory.ts';
import { Browser, startWebServer, type WebServer } from '../../support/web-server.ts';
import { chatConfigured } from '../../../src/root/platforms.ts';

const KEY = 'k3y-0123456789abcdef';
let server: WebServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('WEB_PLAYGROUND', () => {
  it('auto is on alone and off beside Discord or Slack; on and off are what they say', () => {
    const discord = { DISCORD_TOKEN: 'token', DISCORD_APP_ID: '123456789012345678' };
    const slack = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'signing-secret' };
    const playgroundFor = (env: Record<string, string>) => {
      const config = loadConfig(env);
      return playgroundEnabled(config, chatConfigured(config));
    };
    expect(playgroundFor({})).toBe(true);
    expect(playgroundFor(discord)).toBe(false);
    expect(playgroundFor(slack)).toBe(false);
    expect(playgroundFor({ ...slack, WEB_PLAYGROUND: 'on' })).toBe(true);
    expect(playgroundFor({ WEB_PLAYGROUND: 'off' })).toBe(false);
    expect(() => loadConfig({ WEB_PLAYGROUND: 'yes' })).toThrow('Invalid configuration: WEB_PLAYGROUND must be auto, on or off');
    expect(() => loadConfig({ WEB_ACCESS_KEY: 'short' })).toThrow('Invalid configuration: WEB_ACCESS_KEY must be at least 16 characters without spaces (e.g. from `openssl rand -hex 16`)');
  });
});

describe('WEB_ACCESS_KEY', () => {
  it('without the key nothing answers and nothing is queued; ?key= once sets a cookie and the playground works', async () => {
    server = await startWebServer({ env: { WEB_ACCESS_KEY: KEY } });
    const stranger = new Browser(server.url);

    const page = await stranger.request('/');
    expect(page.status).toBe(401);
    expect(await page.text()).toBe('This playground needs an access key: open the link with ?key=… that its operator gave you.');
    const command = await stranger.request('/api/command', { body: { text: '/imagine a cat' } });
    expect(command.status).toBe(401);
    expect(await command.json()).toEqual({ error: 'This playground needs an access key: open the link with ?key=… that its operator gave you.' });
    for (const p of ['/api/gallery', '/api/info', '/api/events', '/api/images/r-1/0.png', '/static/app.js']) expect((await stranger.request(p)).status, p).toBe(401);
    const wrong = await stranger.request('/?key=not-the-key-at-all');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe('That access key is not right. Ask the operator of this playground for the current link.');
    expect(stranger.cookie).toBe('');
    expect((await server.queue.counts()).waiting).toBe(0);

    const friend = new Browser(server.url);
    const opened = await friend.request(`/?key=${KEY}`);
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe('/');
    expect(opened.headers.get('set-cookie')).toMatch(/^imagine_access=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=31536000$/);
    expect(friend.cookie).not.toContain(KEY);
    expect((await friend.request('/')).status).toBe(200);
    expect((await friend.request('/static/app.js')).status).toBe(200);
    expect(await friend.command('/imagine a cat')).toMatchObject({ kind: 'queued' });
    expect((await server.queue.counts()).waiting).toBe(1);
  });

  it('a new key shuts out browsers let in with the old one', async () => {
    const kv = new MemoryKeyValueStore();
    server = await startWebServer({ env: { WEB_ACCESS_KEY: KEY }, kv });
    const browser = new Browser(server.url);
    await browser.request(`/?key=${KEY}`);
    expect((await browser.request('/api/info')).status).toBe(200);
    await server.close();

    server = await startWebServer({ env: { WEB_ACCESS_KEY: `${KEY}-rotated` }, kv });
    const moved = new Browser(server.url);
    moved.cookie = browser.cookie;
    expect((await moved.request('/api/info')).status).toBe(401);
  });

  it('unset: the playground answers without any key', async () => {
    server = await startWebServer();
    expect((await new Browser(server.url).request('/api/info')).status).toBe(200);
  });
});
