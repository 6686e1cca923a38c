/**
 * Editing a result from Slack, end to end: signed requests to the real Bolt receiver, a worker
 * process on the embedded model delivering through the real Slack deliverer to the fake Web
 * API, a real Redis, and the region editor served where PUBLIC_URL points (links-only).
 *   - Zoom Out 2x and ⬅ post new images in the thread;
 *   - Remix opens a modal through views.open prefilled with the prompt; its submission makes a
 *     variation with the new prompt; Custom Zoom's bad value is answered in the modal itself;
 *   - Vary (Region) answers the presser alone with a link that works in one browser, once, and
 *     whose region job is posted back in the thread; nobody else gets one.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import type { JobResult } from '../../src/jobs.ts';
import { boxMask, EditorBrowser, linkIn, startEditorServer, type EditorServer } from '../support/edit-link-server.ts';
import type { FakeSlackMessage } from '../../kit/fake-slack.ts';
import { storedResultFor } from '../support/e2e-stack.ts';
import { redisServerAvailable } from '../../kit/redis-server.ts';
import { actionLabels, ALICE, BOB, CHANNEL, resultMessages, startSlackHarness, type SlackHarness } from '../support/slack-harness.ts';

const available = redisServerAvailable();
if (!available) console.warn('SKIPPED: Slack edit end-to-end tests need redis-server or REDIS_URL');

const PROMPT = 'a red circle on a blue background';
const REMIX = 'a yellow circle on a blue background';

describe.skipIf(!available)('Slack: editing a result', () => {
  let h: SlackHarness;
  let editor: EditorServer;
  let parent: FakeSlackMessage;
  let single: FakeSlackMessage;
  let source: JobResult;

  const storedFor = (message: FakeSlackMessage) => storedResultFor(h.results, 'slack', message.ts);

  /** The next result message in the thread after the `count` already there. */
  async function nextResult(count: number): Promise<{ message: FakeSlackMessage; stored: JobResult; png: Buffer }> {
    const found = await h.fake.waitFor(`result ${count + 1} in the thread`, () => {
      const all = resultMessages(h.fake, CHANNEL, parent.ts);
      return all.length > count ? all : null;
    }, 90_000);
    const message = found[count];
    const stored = await storedFor(message);
    const upload = h.fake.uploads.find((u) => u.filename === `imagine-${stored.resultId}.png`);
    return { message, stored, png: upload!.bytes! };
  }

  const resultCount = () => resultMessages(h.fake, CHANNEL, parent.ts).length;
  const lastView = () => h.fake.views.at(-1)!;

  beforeAll(async () => {
    editor = await startEditorServer();
    h = await startSlackHarness({ env: { PUBLIC_URL: editor.url, LIMIT_USER_PER_MINUTE: '1000', LIMIT_USER_QUEUED: '20' } });
    await editor.mount(h);
    await h.slashCommand(`${PROMPT} --n 1 --seed 7 --steps 8`);
    parent = await h.fake.waitFor('the parent', () => h.fake.messages.find((m) => !m.thread_ts && m.channel === CHANNEL && m.text.includes(PROMPT)));
    ({ message: single, stored: source } = await nextResult(0));
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    await editor?.close();
  });

  it('a single image offers the edits, Vary (Region) among them since PUBLIC_URL is set', () => {
    expect(actionLabels(single)).toEqual([['U1'], ['🔄', 'Vary (Subtle)', 'Vary (Strong)', '✖'], ['Vary (Region)', 'Remix'], ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'], ['⬅', '➡', '⬆', '⬇']]);
  });

  it('Zoom Out 2x and ⬅ post new images in the thread', async () => {
    let count = resultCount();
    await h.press(single, 'Zoom Out 2x');
    const zoom = await nextResult(count++);
    expect(zoom.stored).toMatchObject({ kind: 'edit', parentResultId: source.resultId });
    expect(zoom.message.text).toContain(PROMPT);
    expect(JSON.stringify(zoom.message.blocks)).toContain('Zoom out 2x of image 1');
    const zoomMeta = await sharp(zoom.png).metadata();
    expect([zoomMeta.width, zoomMeta.height]).toEqual([64, 64]);

    await h.press(single, '⬅');
    const pan = await nextResult(count);
    expect(JSON.stringify(pan.message.blocks)).toContain('Pan left of image 1');
    const panMeta = await sharp(pan.png).metadata();
    expect([panMeta.width, panMeta.height]).toEqual([96, 64]);
    const stored = await new FsArtifactStore(h.config.ARTIFACT_DIR).get(pan.stored.images[0].artifact.key);
    expect(pan.png.equals(stored!)).toBe(true);
  });

  it('Remix opens a modal prefilled with the prompt; its submission makes a variation with the new prompt', async () => {
    const views = h.fake.views.length;
    await h.press(single, 'Remix');
    await h.fake.waitFor('the modal', () => h.fake.views.length > views);
    const view = lastView();
    expect(view.view.callback_id).toBe(`im1:rx:${source.resultId}:0`);
    expect(view.view.title.text).toBe('Remix');
    expect(view.view.blocks[0]).toMatchObject({ type: 'input', block_id: 'prompt', element: { type: 'plain_text_input', action_id: 'prompt', initial_value: PROMPT } });
    expect(JSON.parse(view.view.private_metadata)).toMatchObject({ channel: CHANNEL, ts: single.ts, threadTs: parent.ts });

    const count = resultCount();
    const res = await h.submitView(view, { prompt: REMIX });
    expect(res.status).toBe(200);
    // An empty acknowledgement closes the modal.
    expect(res.text).toBe('');
    const remix = await nextResult(count);
    expect(remix.stored).toMatchObject({ kind: 'variation', parentResultId: source.resultId });
    expect(remix.stored.params.prompt).toBe(REMIX);
    expect(remix.stored.origin).toMatchObject({ platform: 'slack', userId: ALICE, threadId: parent.ts });
  });

  it('Custom Zoom: a bad --zoom is answered in the modal and queues nothing; 1.5 zooms out', async () => {
    const views = h.fake.views.length;
    await h.press(single, 'Custom Zoom');
    await h.fake.waitFor('the modal', () => h.fake.views.length > views);
    const view = lastView();
    expect(view.view.blocks[0].element.initial_value).toBe(`${PROMPT} --zoom 2`);
    const jobs = await h.jobCount();
    const bad = await h.submitView(view, { prompt: `${PROMPT} --zoom abc` });
    expect(bad.json()).toEqual({ response_action: 'errors', errors: { prompt: 'Zoom needs a number from 1 to 2, e.g. 1.5.' } });
    expect(await h.jobCount()).toBe(jobs);

    const count = resultCount();
    await h.submitView(view, { prompt: `${PROMPT} --zoom 1.5` });
    const zoom = await nextResult(count);
    expect(zoom.stored.kind).toBe('edit');
    expect(JSON.stringify(zoom.message.blocks)).toContain('Zoom out 1.5x of image 1');
  });

  it('Vary (Region): a private link for the requester only, good in one browser, once; its job is posted in the thread', async () => {
    const refused = await h.press(single, 'Vary (Region)', { user: BOB });
    const bobAnswer = await h.fake.waitFor('the refusal', () => h.fake.responseUrlPosts(refused.responseUrl)[0]?.body);
    expect(bobAnswer.text).toBe('Only the person who asked for this image can use these buttons.');
    expect(bobAnswer.text).not.toContain('/edit?link=');

    const pressed = await h.press(single, 'Vary (Region)');
    const answer = await h.fake.waitFor('the link', () => h.fake.responseUrlPosts(pressed.responseUrl)[0]?.body);
    expect(answer).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    const url = linkIn(answer.text, editor.url)!;
    expect(url, answer.text).toBeTruthy();
    expect(answer.text).toContain(`<${url}|Open the region editor>`);

    const mine = new EditorBrowser();
    expect((await mine.request(url)).status).toBe(200);
    const token = new URL(url).searchParams.get('link')!;
    const info = (await mine.request(`${editor.url}/edit/api/link?link=${encodeURIComponent(token)}`)).json();
    expect(info).toMatchObject({ prompt: PROMPT, width: 64, height: 64, platform: 'slack' });
    const other = await new EditorBrowser().request(url);
    expect(other.status).toBe(403);
    expect(other.text()).toContain('already opened in another browser');

    const mask = await boxMask(64, 64, { left: 0, top: 32, width: 64, height: 32 });
    const count = resultCount();
    const sent = await mine.request(`${editor.url}/edit/api/submit`, { json: { link: token, prompt: PROMPT, mask: mask.dataUrl } });
    expect(sent.json()).toMatchObject({ kind: 'queued', platform: 'slack' });
    const region = await nextResult(count);
    expect(region.stored).toMatchObject({ kind: 'edit', parentResultId: source.resultId });
    // Unchanged prompt: no remix.
    expect(region.stored.params.prompt).toBe(PROMPT);
    expect(region.stored.origin).toMatchObject({ platform: 'slack', userId: ALICE, channelId: CHANNEL, threadId: parent.ts });
    expect(JSON.stringify(region.message.blocks)).toContain('Vary (Region) of image 1');
    const job = await h.queue.queue.getJob(region.stored.jobId);
    const storedMask = await new FsArtifactStore(h.config.ARTIFACT_DIR).get(job!.data.edit.maskArtifactKey);
    const { data } = await sharp(storedMask!).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect([data[0], data[31 * 64 + 63], data[32 * 64], data[63 * 64 + 63]]).toEqual([0, 0, 255, 255]);

    const reopened = await mine.request(url);
    expect(reopened.status).toBe(410);
    expect(reopened.text()).toContain('already used');
  });
});
