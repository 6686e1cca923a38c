/**
 * GET /api/images/<result>/<i|grid>.png over real HTTP: a result's pictures go to the browser
 * session that made it and to no one else (a result id is in every button id, on every
 * platform, so knowing it proves nothing), and with NSFW_MODE=withhold a picture the safety
 * checker flagged is never sent, not even to its owner.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resultSchema } from '../../../src/jobs.ts';
import { Browser, startWebServer, type WebServer } from '../../support/web-server.ts';

let server: WebServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Alice queues a job; a worker finishes it with these safety verdicts; the stored result. */
async function aliceResult(s: WebServer, alice: Browser, nsfw: boolean[] = []) {
  const queued = await alice.command('/imagine a red circle on a blue background --n 2');
  expect(queued.kind).toBe('queued');
  return s.finish(queued.jobId, await s.payloadOf(queued.jobId), { nsfw });
}

describe('result images', () => {
  it('are served to the session that made the result, and to no other session or cookie-less request', async () => {
    server = await startWebServer();
    const alice = new Browser(server.url);
    const result = await aliceResult(server, alice);

    const own = await alice.request(`/api/images/${result.resultId}/0.png`);
    expect(own.status).toBe(200);
    expect(own.headers.get('cache-control')).toBe('private, max-age=86400, immutable');
    expect(Buffer.from(await own.arrayBuffer()).toString()).toBe(`png 0 of ${result.jobId}`);
    expect(await (await alice.request(`/api/images/${result.resultId}/grid.png`)).text()).toBe(`grid of ${result.jobId}`);

    const bob = new Browser(server.url);
    await bob.request('/');
    for (const which of ['0', '1', 'grid']) {
      const theirs = await bob.request(`/api/images/${result.resultId}/${which}.png`);
      expect(theirs.status, which).toBe(404);
      expect(await theirs.json()).toEqual({ error: 'this image has expired or was removed' });
      expect((await new Browser(server.url).request(`/api/images/${result.resultId}/${which}.png`)).status, `${which} without a cookie`).toBe(404);
    }
  });

  it('of a Discord or Slack result are never served by the playground', async () => {
    server = await startWebServer();
    const alice = new Browser(server.url);
    const web = await aliceResult(server, alice);
    // The same stored pictures, but a chat result: its user id might even be anything the attacker likes.
    for (const platform of ['discord', 'slack'] as const) {
      const chat = resultSchema.parse({ ...web, resultId: `${platform}-result`, origin: { ...web.origin, platform } });
      await server.results.save(chat, 3600);
      expect((await alice.request(`/api/images/${chat.resultId}/0.png`)).status, platform).toBe(404);
    }
  });

  it('flagged by the safety checker: blurred on the page but sent to its owner with NSFW_MODE=spoiler, never sent with withhold', async () => {
    server = await startWebServer({ env: { NSFW_MODE: 'withhold' } });
    const alice = new Browser(server.url);
    const result = await aliceResult(server, alice, [false, true]);
    expect((await alice.request(`/api/images/${result.resultId}/0.png`)).status).toBe(200);
    for (const which of ['1', 'grid']) {
      const withheld = await alice.request(`/api/images/${result.resultId}/${which}.png`);
      expect(withheld.status, which).toBe(403);
      expect(await withheld.json()).toEqual({ error: 'the safety checker flagged this image, so it is withheld' });
    }
    const gallery = await waitForGallery(alice);
    expect(gallery[0]).toMatchObject({ resultId: result.resultId, flagged: true, withheld: true });
    await server.close();

    server = await startWebServer({ env: { NSFW_MODE: 'spoiler' } });
    const owner = new Browser(server.url);
    const spoiler = await aliceResult(server, owner, [false, true]);
    for (const which of ['1', 'grid']) expect((await owner.request(`/api/images/${spoiler.resultId}/${which}.png`)).status, which).toBe(200);
    expect((await waitForGallery(owner))[0]).toMatchObject({ flagged: true, withheld: false });
  });
});

async function waitForGallery(browser: Browser): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 50; i++) {
    const { results } = await (await browser.request('/api/gallery')).json();
    if (results.length > 0) return results;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the result never reached the gallery');
}
