/**
 * The playground's edit endpoints on a real HTTP server: /api/region (the editor's mask, checked
 * with sharp, stored, and a region job queued through varyRegion) and /api/form (Remix and
 * Custom Zoom). Only the session's own results can be edited, and a bad mask queues nothing.
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeAction } from '../../../src/actions.ts';
import { boxMask } from '../../support/edit-link-server.ts';
import { Browser, startWebServer, type WebServer } from '../../support/web-server.ts';

let server: WebServer;
afterEach(async () => {
  await server?.close();
});

async function aliceResult(s: WebServer, alice: Browser) {
  const queued = await alice.command('/imagine a red circle on a blue background --n 2');
  expect(queued.kind).toBe('queued');
  return s.finish(queued.jobId, await s.payloadOf(queued.jobId));
}

const jobs = async (s: WebServer) => (await s.queue.counts()).waiting;

describe('playground edit endpoints', () => {
  it('/api/region stores the mask as drawn and queues a region job on that image; a changed prompt is a remix', async () => {
    server = await startWebServer({ env: { LIMIT_USER_QUEUED: '10' } });
    const alice = new Browser(server.url);
    const result = await aliceResult(server, alice);
    const mask = await boxMask(64, 64, { left: 8, top: 40, width: 20, height: 10 });

    const reply = await (await alice.request('/api/region', { body: { resultId: result.resultId, index: 1, prompt: 'a red circle on a blue background', mask: mask.dataUrl } })).json();
    expect(reply).toMatchObject({ kind: 'queued', parentResultId: result.resultId });
    const payload = await server.payloadOf(reply.jobId);
    expect(payload).toMatchObject({ kind: 'edit', source: { resultId: result.resultId, index: 1 }, params: { prompt: 'a red circle on a blue background', n: 1, width: 64, height: 64 } });
    if (payload.kind !== 'edit' || payload.edit.type !== 'region') throw new Error('not a region job');
    const stored = (await server.artifacts.get(payload.edit.maskArtifactKey))!;
    // One channel, two levels, exactly the box.
    const meta = await sharp(stored).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 64, 64, 1]);
    const { data } = await sharp(stored).greyscale().raw().toBuffer({ resolveWithObject: true });
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) expect(data[y * 64 + x], `${x},${y}`).toBe(x >= 8 && x < 28 && y >= 40 && y < 50 ? 255 : 0);

    const remixed = await (await alice.request('/api/region', { body: { resultId: result.resultId, index: 0, prompt: 'a yellow circle on a blue background', mask: mask.dataUrl } })).json();
    expect((await server.payloadOf(remixed.jobId)).params.prompt).toBe('a yellow circle on a blue background');
    expect(remixed.summary).toMatch(/^Vary \(Region\) \(remix\) of image 1/);
  });

  it('refuses masks that are not a drawn PNG of the image size, and queues nothing', async () => {
    server = await startWebServer();
    const alice = new Browser(server.url);
    const result = await aliceResult(server, alice);
    const before = await jobs(server);
    const send = async (mask: string) => (await alice.request('/api/region', { body: { resultId: result.resultId, index: 0, mask } })).json();
    const black = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } }).png().toBuffer();
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).jpeg().toBuffer();
    expect(await send('')).toMatchObject({ kind: 'message', message: 'Draw the region to repaint first.' });
    expect(await send(Buffer.from('not a picture').toString('base64'))).toMatchObject({ kind: 'message', message: 'The mask is not an image.' });
    expect(await send(jpeg.toString('base64'))).toMatchObject({ kind: 'message', message: 'The mask must be a PNG; got jpeg.' });
    expect(await send((await boxMask(128, 64, { left: 0, top: 0, width: 4, height: 4 })).dataUrl)).toMatchObject({ message: 'The mask must be 64x64, the size of the image; got 128x64.' });
    expect(await send(black.toString('base64'))).toMatchObject({ message: 'Nothing was drawn: paint over the region to repaint, then send.' });
    expect(await send(Buffer.alloc(1_050_000, 7).toString('base64'))).toMatchObject({ message: 'The mask is too large (at most 1024 KB).' });
    const huge = await alice.request('/api/region', { body: { resultId: result.resultId, index: 0, mask: 'A'.repeat(2_000_000) } });
    expect(huge.status).toBe(413);
    expect(await jobs(server)).toBe(before);
    expect(await server.artifacts.get('masks')).toBeNull();
  });

  it('edits only the session’s own results, and only through JSON', async () => {
    server = await startWebServer();
    const alice = new Browser(server.url);
    const result = await aliceResult(server, alice);
    const mask = (await boxMask(64, 64, { left: 0, top: 0, width: 8, height: 8 })).dataUrl;
    const bob = new Browser(server.url);
    await bob.request('/');
    expect(await (await bob.request('/api/region', { body: { resultId: result.resultId, index: 0, mask } })).json()).toMatchObject({ kind: 'message', code: 'expired' });
    const form = await bob.request('/api/region', { method: 'POST', headers: { 'content-type': 'text/plain' } });
    expect(form.status).toBe(415);
  });

  it('/api/form: Remix makes a variation with the typed prompt, Custom Zoom a zoom by the typed factor', async () => {
    server = await startWebServer({ env: { LIMIT_USER_QUEUED: '10' } });
    const alice = new Browser(server.url);
    const result = await aliceResult(server, alice);
    const remixId = encodeAction({ action: 'remix', resultId: result.resultId, index: 1 });
    const remix = await (await alice.request('/api/form', { body: { id: remixId, text: 'a green square on a white background' } })).json();
    expect(remix.kind).toBe('queued');
    expect(await server.payloadOf(remix.jobId)).toMatchObject({ kind: 'variation', mode: 'strong', source: { index: 1 }, params: { prompt: 'a green square on a white background' } });

    const zoomId = encodeAction({ action: 'zoom-custom', resultId: result.resultId, index: 0 });
    const bad = await (await alice.request('/api/form', { body: { id: zoomId, text: 'a red circle on a blue background --zoom 2.5' } })).json();
    expect(bad).toEqual({ kind: 'message', code: 'out-of-range', message: 'Zoom must be from 1 to 2.' });
    const zoom = await (await alice.request('/api/form', { body: { id: zoomId, text: 'a red circle on a blue background --zoom 1.25' } })).json();
    expect(await server.payloadOf(zoom.jobId)).toMatchObject({ kind: 'edit', edit: { type: 'zoom', factor: 1.25 } });
    // A button id that is no form.
    expect(await (await alice.request('/api/form', { body: { id: encodeAction({ action: 'upscale', resultId: result.resultId, index: 0 }), text: 'x' } })).json()).toMatchObject({ code: 'unknown-button' });
  });
});
