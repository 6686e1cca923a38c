/**
 * The Slack deliverer against the loopback fake Web API, through the real WebClient:
 * files.uploadV2 into the thread, the Block Kit result with its buttons, progress edits,
 * failures, 429/5xx handling, per-channel spacing, retried deliveries and response_url limits.
 */
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeAction } from '../../../src/actions.ts';
import { loadConfig } from '../../../src/root/config.ts';
import { deliveryTarget, TransientDeliveryError, type DeliveryContext } from '../../../src/delivery.ts';
import { JOB_VERSION, jobPayloadSchema, parseJobResult, type JobPayload, type JobResult } from '../../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../../src/kv-memory.ts';
import { createLogger } from '../../../src/logger.ts';
import { ChannelPacer } from '../../../adapters/slack/channel-pacer.ts';
import { createSlackDeliverer, type SlackDeliverer } from '../../../adapters/slack/deliver.ts';
import { RESPONSE_URL_MAX_USES, ResponseUrlReplies } from '../../../adapters/slack/response-url.ts';
import * as state from '../../../adapters/slack/state.ts';
import { FakeSlack, type FakeSlackMessage } from '../../../kit/fake-slack.ts';

const silent = createLogger({ level: 'silent' });
const CHANNEL = 'C0IMAGINE';
const USER = 'U0ALICE';

let fake: FakeSlack;
let kv: MemoryKeyValueStore;
let grid: Buffer;

function deliverer(opts: { pacingMs?: number; minProgressIntervalMs?: number } = {}): SlackDeliverer {
  const config = loadConfig({ SLACK_BOT_TOKEN: fake.botToken, SLACK_SIGNING_SECRET: 'signing-secret-1', SLACK_API_URL: fake.apiUrl, LOG_LEVEL: 'silent' });
  return createSlackDeliverer(config, kv, {
    logger: silent,
    timeoutMs: 5_000,
    pacer: new ChannelPacer(kv, { intervalMs: opts.pacingMs ?? 0 }),
    minProgressIntervalMs: opts.minProgressIntervalMs ?? 0,
  });
}

/** A job as the bot enqueues it: parent message in the channel, status message in its thread. */
function job(n = 4): { ctx: DeliveryContext; parent: FakeSlackMessage; status: FakeSlackMessage; payload: JobPayload } {
  const parent = fake.postBotMessage(CHANNEL, 'asked for: a fox in the snow');
  const status = fake.postBotMessage(CHANNEL, 'Queued', parent.ts);
  const payload = jobPayloadSchema.parse({
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: { platform: 'slack', workspaceId: fake.teamId, channelId: CHANNEL, threadId: parent.ts, userId: USER, messageId: status.ts, eventId: `cmd:${parent.ts}` },
    params: { prompt: 'a fox in the snow', negativePrompt: '', seed: 7, steps: 4, guidance: 5, width: 96, height: 64, n, sampler: 'euler_a', model: 'tiny' },
    createdAt: Date.now(),
  });
  return { ctx: { jobId: `job-${parent.ts.replace('.', '-')}`, payload, secret: null }, parent, status, payload };
}

function resultFor(payload: JobPayload, jobId: string, n = payload.params.n): JobResult {
  return parseJobResult({
    v: JOB_VERSION,
    resultId: `r-${jobId}`,
    jobId,
    kind: payload.kind,
    params: payload.params,
    origin: payload.origin,
    images: Array.from({ length: n }, (_, i) => ({ artifact: { key: `r/${i}.png`, bytes: 10, contentType: 'image/png' }, seed: 7 + i, width: 96, height: 64 })),
    timings: { totalMs: 100 },
    model: 'tiny',
    sampler: 'euler_a',
    provider: 'cpu',
    createdAt: Date.now(),
  });
}

const buttonLabels = (msg: FakeSlackMessage) =>
  (msg.blocks ?? []).filter((b) => b.type === 'actions').map((b) => b.elements.map((e: { text: { text: string } }) => e.text.text));

beforeEach(async () => {
  fake = await FakeSlack.start();
  kv = new MemoryKeyValueStore();
  grid ??= await sharp({ create: { width: 192, height: 128, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
});

afterEach(async () => {
  await fake.close();
});

describe('Slack deliverer', () => {
  it('uploads the grid into the thread with files.uploadV2 and posts the buttons under it', async () => {
    const d = deliverer();
    const { ctx, parent, status, payload } = job();
    const result = resultFor(payload, ctx.jobId);
    const delivered = await d.result(ctx, result, { grid, images: [grid, grid, grid, grid] });

    expect(fake.callsTo('files.upload')).toHaveLength(0);
    expect(fake.callsTo('files.getUploadURLExternal')).toHaveLength(1);
    expect(fake.callsTo('files.completeUploadExternal')).toHaveLength(1);
    const [upload] = fake.uploads;
    expect(upload.completed).toBe(true);
    expect(upload.bytes!.equals(grid)).toBe(true);
    expect(upload).toMatchObject({ channel_id: CHANNEL, thread_ts: parent.ts, filename: `imagine-${result.resultId}.png`, title: 'a fox in the snow' });

    const replies = fake.threadReplies(CHANNEL, parent.ts);
    // status, file share, result message — in that order.
    expect(replies.map((m) => m.ts)).toEqual([status.ts, upload.ts, delivered.messageId]);
    const resultMsg = fake.message(CHANNEL, delivered.messageId)!;
    expect(buttonLabels(resultMsg)).toEqual([
      ['U1', 'U2', 'U3', 'U4'],
      ['V1', 'V2', 'V3', 'V4'],
      ['🔄', '✖'],
    ]);
    const ids = (resultMsg.blocks ?? []).filter((b) => b.type === 'actions').flatMap((b) => b.elements.map((e: { action_id: string; value: string }) => e.action_id));
    expect(ids.map(decodeAction)).toContainEqual({ action: 'variation', resultId: result.resultId, index: 1 });
    expect(ids.map(decodeAction)).toContainEqual({ action: 'reseed', resultId: result.resultId });
    expect(JSON.stringify(resultMsg.blocks)).toContain('`seeds 7, 8, 9, 10`');

    // The status message now says done and has no ✖ any more.
    const statusNow = fake.message(CHANNEL, status.ts)!;
    expect(statusNow.text).toMatch(/^Done — a fox in the snow/);
    expect(buttonLabels(statusNow)).toEqual([]);
    // One-click hint for the first configured reaction.
    expect(fake.reactions).toEqual([{ channel: CHANNEL, ts: delivered.messageId, name: 'repeat', user: fake.botUserId }]);
    expect(await state.resultFile(kv, result.resultId)).toBe(upload.id);
  });

  it('edits the status message with progress, at most once per interval per job', async () => {
    const d = deliverer({ minProgressIntervalMs: 60_000 });
    const { ctx, status } = job();
    await d.progress(ctx, { step: 2, total: 8, etaMs: 3000 });
    await d.progress(ctx, { step: 3, total: 8, etaMs: 2000 });
    expect(fake.callsTo('chat.update')).toHaveLength(1);
    const msg = fake.message(CHANNEL, status.ts)!;
    expect(JSON.stringify(msg.blocks)).toContain('Step 2/8 (25%) · about 3 s left');
    expect(buttonLabels(msg)).toEqual([['✖']]);
    expect(decodeAction(msg.blocks!.find((b) => b.type === 'actions').elements[0].action_id)).toEqual({ action: 'cancel', jobId: ctx.jobId });
  });

  it('gives a single image the named variation pair and the edit rows, not a V1', async () => {
    const d = deliverer();
    const { ctx, parent, payload } = job(1);
    const delivered = await d.result(ctx, resultFor(payload, ctx.jobId), { grid, images: [grid] });
    const withButtons = fake.threadReplies(CHANNEL, parent.ts).filter((m) => buttonLabels(m).length > 0);
    expect(withButtons.map((m) => m.ts)).toEqual([delivered.messageId]);
    // Vary (Subtle) / Vary (Strong) instead of a V1 that would repeat Vary (Strong).
    expect(buttonLabels(withButtons[0])).toEqual([['U1'], ['🔄', 'Vary (Subtle)', 'Vary (Strong)', '✖'], ['Remix'], ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'], ['⬅', '➡', '⬆', '⬇']]);
  });

  it('waits out no rate limit itself: a 429 comes back with Slack\'s advised wait for the delivery service to honour', async () => {
    const d = deliverer();
    const { ctx, payload } = job(1);
    fake.failNext('chat.postMessage', { status: 429, retryAfterS: 120 });
    const started = Date.now();
    const err = await d.result(ctx, resultFor(payload, ctx.jobId), { grid, images: [grid] }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429]);
    expect(err).toBeInstanceOf(TransientDeliveryError);
    expect(d.classifyError(err)).toEqual({ verdict: 'retry', status: 429, retryAfterMs: 120_000 });
  });

  it('retries no 5xx itself, and a retried delivery neither uploads nor posts twice', async () => {
    const d = deliverer();
    const { ctx, parent, payload } = job();
    const result = resultFor(payload, ctx.jobId);
    fake.failNext('chat.postMessage', { status: 500 });
    // This attempt fails after the upload, on the one post the client made.
    const err = await d.result(ctx, result, { grid, images: [grid] }).catch((e: unknown) => e);
    expect(fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([500]);
    expect(d.classifyError(err)).toMatchObject({ verdict: 'retry', status: 500 });
    expect(fake.uploads.filter((u) => u.completed)).toHaveLength(1);

    const delivered = await d.result(ctx, result, { grid, images: [grid] });
    expect(fake.uploads.filter((u) => u.completed)).toHaveLength(1);
    expect(fake.callsTo('files.getUploadURLExternal')).toHaveLength(1);
    const withButtons = fake.threadReplies(CHANNEL, parent.ts).filter((m) => buttonLabels(m).length > 0);
    expect(withButtons.map((m) => m.ts)).toEqual([delivered.messageId]);
  });

  it('spaces posts to one channel about a second apart, across deliverers sharing the store', async () => {
    const a = deliverer({ pacingMs: 1000 });
    const b = deliverer({ pacingMs: 1000 });
    const one = job();
    const two = job();
    await Promise.all([
      a.result(one.ctx, resultFor(one.payload, one.ctx.jobId), { grid, images: [grid] }),
      b.result(two.ctx, resultFor(two.payload, two.ctx.jobId), { grid, images: [grid] }),
    ]);
    const posts = fake.calls.filter((c) => c.method === 'chat.postMessage' || c.method === 'files.completeUploadExternal').map((c) => c.at);
    expect(posts).toHaveLength(4);
    for (let i = 1; i < posts.length; i++) expect(posts[i] - posts[i - 1]).toBeGreaterThanOrEqual(900);
    expect(fake.fastPosts.filter((p) => p.gapMs < 900)).toEqual([]);
  });

  it('shows failures on the status message, with Retry when offered', async () => {
    const d = deliverer();
    const { ctx, status } = job();
    await d.failure(deliveryTarget(ctx), { message: 'The model ran out of memory.', retry: true });
    let msg = fake.message(CHANNEL, status.ts)!;
    expect(JSON.stringify(msg.blocks)).toContain('❌ The model ran out of memory.');
    expect(buttonLabels(msg)).toEqual([['Retry']]);
    expect(decodeAction(msg.blocks!.find((b) => b.type === 'actions').elements[0].action_id)).toEqual({ action: 'retry', jobId: ctx.jobId });

    await d.failure(deliveryTarget(ctx), { message: '', retry: false, cancelled: true });
    msg = fake.message(CHANNEL, status.ts)!;
    expect(msg.text).toBe('Cancelled: ');
    expect(buttonLabels(msg)).toEqual([]);
  });

  it('posts a new status message in the thread when the old one was deleted', async () => {
    const d = deliverer();
    const { ctx, parent, status } = job();
    status.deleted = true;
    await d.progress(ctx, { step: 1, total: 4, etaMs: null });
    await d.failure(deliveryTarget(ctx), { message: 'Timed out.', retry: false });
    const replies = fake.threadReplies(CHANNEL, parent.ts);
    expect(replies).toHaveLength(1);
    expect(JSON.stringify(replies[0].blocks)).toContain('❌ Timed out.');
    expect(replies[0].edits).toBe(1);
  });

  it('withholds a flagged grid (Slack has no spoilers) but still posts the buttons', async () => {
    const d = deliverer();
    const { ctx, payload } = job(1);
    const result = resultFor(payload, ctx.jobId);
    const delivered = await d.result(ctx, { ...result, images: result.images.map((img) => ({ ...img, nsfw: true })) }, { grid, images: [grid] });
    expect(fake.uploads).toHaveLength(0);
    expect(JSON.stringify(fake.message(CHANNEL, delivered.messageId)!.blocks)).toContain('The safety checker flagged this image');
  });

  it('replaces the requester\'s queued ephemeral through the response_url when the result lands', async () => {
    const d = deliverer();
    const { ctx, payload } = job(1);
    const url = fake.newResponseUrl(CHANNEL, USER);
    await d.result({ ...ctx, secret: { platform: 'slack', responseUrl: url } }, resultFor(payload, ctx.jobId), { grid, images: [grid] });
    expect(fake.responseUrlPosts(url).map((p) => p.body)).toEqual([
      { text: '✅ Your images are ready in the thread.', response_type: 'ephemeral', replace_original: true },
    ]);
  });
});

describe('response_url limits', () => {
  it('never posts more than five times to one response_url, across callers sharing the store', async () => {
    const url = fake.newResponseUrl(CHANNEL, USER);
    const a = new ResponseUrlReplies(kv);
    const b = new ResponseUrlReplies(kv);
    const sent = await Promise.all(Array.from({ length: 7 }, (_, i) => (i % 2 ? a : b).send(url, { text: `answer ${i}`, ephemeral: true })));
    expect(sent.filter(Boolean)).toHaveLength(RESPONSE_URL_MAX_USES);
    expect(fake.responseUrlPosts(url)).toHaveLength(RESPONSE_URL_MAX_USES);
    expect(fake.responseUrlPosts(url).every((p) => p.accepted)).toBe(true);
  });
});
