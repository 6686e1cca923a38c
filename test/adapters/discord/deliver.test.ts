/**
 * The Discord deliverer against the loopback fake Discord: which route each message takes
 * (interaction webhook while the token lives, channel routes after), idempotent channel posts,
 * rate limits and server errors, the attachment size limit, NSFW handling and failures.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { RateLimitError } from '@discordjs/rest';
import { DiscordDeliverer } from '../../../adapters/discord/deliver.ts';
import { createDiscordRest } from '../../../adapters/discord/rest.ts';
import { attachmentLimitFor, rememberAttachmentLimit } from '../../../adapters/discord/state.ts';
import { encodeAction } from '../../../src/actions.ts';
import { deliveryTarget, PermanentDeliveryError, type DeliveryContext, type ResultFiles } from '../../../src/delivery.ts';
import { JOB_VERSION, type JobPayload, type JobResult } from '../../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../../src/kv-memory.ts';
import { FakeDiscord, type FakeInteraction } from '../../support/fake-discord.ts';

let fake: FakeDiscord;
let kv: MemoryKeyValueStore;
let jobCounter = 0;

beforeAll(async () => {
  fake = await FakeDiscord.start();
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.faults.length = 0;
  fake.attachmentSizeLimit = 10 * 1024 * 1024;
});

function deliverer(opts: { nsfwMode?: 'spoiler' | 'withhold'; maxRateLimitWaitMs?: number } = {}): DiscordDeliverer {
  kv = new MemoryKeyValueStore();
  return new DiscordDeliverer({
    rest: createDiscordRest(fake.token, fake.apiUrl, { timeoutMs: 5_000, maxRateLimitWaitMs: opts.maxRateLimitWaitMs ?? 10_000 }),
    kv,
    applicationId: fake.applicationId,
    nsfwMode: opts.nsfwMode ?? 'spoiler',
  });
}

function payload(interaction: FakeInteraction | null, n = 4): JobPayload {
  return {
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: {
      platform: 'discord',
      workspaceId: fake.guildId,
      channelId: fake.channelId,
      userId: '2000000000000000001',
      platformData: { applicationId: fake.applicationId },
      ...(interaction ? { eventId: interaction.id } : {}),
    },
    params: { prompt: 'a red circle on a blue background', negativePrompt: '', seed: 7, steps: 4, guidance: 7, width: 64, height: 64, n, sampler: 'euler_a', model: 'tiny' },
    createdAt: Date.now(),
  };
}

function context(interaction: FakeInteraction | null, n = 4): DeliveryContext {
  jobCounter++;
  return {
    jobId: `job-${jobCounter}-${Date.now()}`,
    payload: payload(interaction, n),
    secret: interaction ? { platform: 'discord', interactionToken: interaction.token } : null,
  };
}

/** The result with every image flagged by a safety checker. */
function flagged(result: JobResult): JobResult {
  return { ...result, images: result.images.map((img) => ({ ...img, nsfw: true })) };
}

function resultFor(ctx: DeliveryContext): JobResult {
  const p = ctx.payload;
  const n = p.params.n;
  return {
    v: JOB_VERSION,
    resultId: `r_${ctx.jobId}`,
    jobId: ctx.jobId,
    kind: 'txt2img',
    params: p.params,
    origin: p.origin,
    images: Array.from({ length: n }, (_, i) => ({ artifact: { key: `k${i}`, bytes: 1, contentType: 'image/png' }, seed: 7 + i, width: 64, height: 64 })),
    timings: { totalMs: 10 },
    model: 'tiny',
    sampler: 'euler_a',
    provider: 'cpu',
    createdAt: Date.now(),
  };
}

/** A PNG that compresses badly (noise), so the size limit tests have something to squeeze. */
async function noisePng(side: number): Promise<Buffer> {
  const raw = Buffer.alloc(side * side * 3);
  let x = 12345;
  for (let i = 0; i < raw.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    raw[i] = x >> 16;
  }
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
}

async function files(side = 128): Promise<ResultFiles> {
  const grid = await sharp({ create: { width: side, height: side, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
  return { grid, images: [grid] };
}

const allCustomIds = (components: any[]) => components.flatMap((row) => row.components.map((c: any) => c.custom_id));

describe('Discord deliverer', () => {
  it('edits progress into the deferred reply, with the cancel button and the preview', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    const preview = (await files(32)).grid;
    await d.progress(ctx, { step: 2, total: 4, etaMs: 3000, preview });
    const msg = fake.messages.get(it.originalMessageId!)!;
    expect(msg.content).toContain('Step 2/4 (50%) · about 3 s left');
    expect(msg.content).toContain('**a red circle on a blue background** — <@2000000000000000001>');
    expect(allCustomIds(msg.components)).toEqual([encodeAction({ action: 'cancel', jobId: ctx.jobId })]);
    expect(msg.files.map((f) => f.name)).toEqual(['preview.png']);
    expect(msg.files[0].data.equals(preview)).toBe(true);
    const call = fake.calls.at(-1)!;
    expect(call.method).toBe('PATCH');
    expect(call.path).toBe(`/webhooks/${fake.applicationId}/${it.token}/messages/@original`);
    // Webhook routes authenticate with the token in the path, never the bot token.
    expect(call.authorization).toBeNull();
    // Discord's attachment request structure: a snowflake string id naming files[0], and the prompt as alt text.
    expect(call.body.attachments).toEqual([{ id: '0', filename: 'preview.png', description: 'a red circle on a blue background' }]);
    expect(msg.attachments[0].description).toBe('a red circle on a blue background');
  });

  it('gives the result image the prompt as alt text, cut to Discord\'s 1024 characters', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    const long = `${'a lighthouse at dusk, '.repeat(60)}end`;
    ctx.payload.params.prompt = long;
    const result = resultFor(ctx);
    await d.result(ctx, result, await files());
    const body = fake.calls.at(-1)!.body;
    expect(body.attachments).toHaveLength(1);
    expect(body.attachments[0]).toMatchObject({ id: '0', filename: `imagine-${result.resultId}.png` });
    expect(body.attachments[0].description).toHaveLength(1024);
    expect(body.attachments[0].description).toBe(`${long.slice(0, 1023)}…`);
    expect(fake.messages.get(it.originalMessageId!)!.attachments[0].description).toBe(body.attachments[0].description);
  });

  it('posts the result into the reply: grid bytes, parameters and the 9 buttons', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    const result = resultFor(ctx);
    const f = await files();
    await d.progress(ctx, { step: 1, total: 4, etaMs: null });
    const delivered = await d.result(ctx, result, f);
    expect(delivered.messageId).toBe(it.originalMessageId);
    const msg = fake.messages.get(it.originalMessageId!)!;
    expect(msg.files).toHaveLength(1);
    expect(msg.files[0].name).toBe(`imagine-${result.resultId}.png`);
    expect(msg.files[0].data.equals(f.grid)).toBe(true);
    expect(msg.content).toContain('`seeds 7, 8, 9, 10` · `euler_a` · `4 steps` · `cfg 7` · `64x64` · `tiny`');
    const r = result.resultId;
    expect(allCustomIds(msg.components)).toEqual([
      `im1:u:${r}:0`, `im1:u:${r}:1`, `im1:u:${r}:2`, `im1:u:${r}:3`,
      `im1:v:${r}:0`, `im1:v:${r}:1`, `im1:v:${r}:2`, `im1:v:${r}:3`,
      `im1:r:${r}`, `im1:d:${r}`,
    ]);
    expect(msg.components.map((row: any) => row.components.map((c: any) => c.label))).toEqual([
      ['U1', 'U2', 'U3', 'U4'],
      ['V1', 'V2', 'V3', 'V4'],
      ['🔄', '✖'],
    ]);
    // Only the requester is pinged, whatever the prompt contains.
    expect(fake.calls.at(-1)!.body.allowed_mentions).toEqual({ parse: [], users: ['2000000000000000001'] });
  });

  it('posts through the channel when the token expired before delivery, once even if delivered twice', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    fake.expireInteraction(it.id);
    const ctx = context(it);
    const result = resultFor(ctx);
    const before = fake.channelMessages().length;
    const first = await d.result(ctx, result, await files());
    // A retried job delivers again: the nonce makes Discord return the same message.
    await kv.del(`discord:job-message:${ctx.jobId}`);
    const second = await d.result(ctx, result, await files());
    expect(second.messageId).toBe(first.messageId);
    expect(fake.channelMessages().length).toBe(before + 1);
    const posts = fake.callsTo('POST', new RegExp(`^/channels/${fake.channelId}/messages$`)).slice(-2);
    expect(posts.map((p) => p.status)).toEqual([200, 200]);
    expect(posts[0].body.enforce_nonce).toBe(true);
    expect(posts[0].body.nonce).toHaveLength(25);
    expect(posts[0].authorization).toBe(`Bot ${fake.token}`);
    const webhookTries = fake.callsTo('PATCH', new RegExp(`^/webhooks/.*/${it.token}/`));
    expect(webhookTries.map((c) => c.status)).toEqual([401]);
    expect(fake.messages.get(first.messageId)!.files[0].data.equals((await files()).grid)).toBe(true);
  });

  it('keeps editing the same message through the channel route when the token expires mid-job', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    await d.progress(ctx, { step: 1, total: 4, etaMs: null });
    fake.expireInteraction(it.id);
    await d.progress(ctx, { step: 3, total: 4, etaMs: null });
    const delivered = await d.result(ctx, resultFor(ctx), await files());
    expect(delivered.messageId).toBe(it.originalMessageId);
    const edits = fake.callsTo('PATCH', new RegExp(`^/channels/${fake.channelId}/messages/${it.originalMessageId}$`));
    expect(edits.map((c) => c.status)).toEqual([200, 200]);
    expect(fake.messages.get(it.originalMessageId!)!.files[0].name).toMatch(/^imagine-r_job-.*\.png$/);
  });

  it('waits out a 429 and then delivers one message', async () => {
    const d = deliverer();
    const ctx = context(null);
    fake.injectRateLimit(new RegExp(`^/channels/${fake.channelId}/messages$`), 1, 'POST');
    const before = fake.channelMessages().length;
    const delivered = await d.result(ctx, resultFor(ctx), await files());
    const posts = fake.callsTo('POST', new RegExp(`^/channels/${fake.channelId}/messages$`)).slice(-2);
    expect(posts.map((p) => p.status)).toEqual([429, 200]);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(1000);
    expect(fake.channelMessages().length).toBe(before + 1);
    expect(fake.messages.get(delivered.messageId)!.deleted).toBe(false);
  });

  it('does not sit out a rate limit longer than the bound', async () => {
    const d = deliverer({ maxRateLimitWaitMs: 500 });
    const ctx = context(null);
    fake.injectRateLimit(new RegExp(`^/channels/${fake.channelId}/messages$`), 30, 'POST');
    const started = Date.now();
    await expect(d.result(ctx, resultFor(ctx), await files())).rejects.toBeInstanceOf(RateLimitError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('sits out at most three rate limits within one call, then hands the rest to the retry layer', async () => {
    const d = deliverer();
    const ctx = context(null);
    const route = new RegExp(`^/channels/${fake.channelId}/messages$`);
    const before = fake.callsTo('POST', route).length;
    // discord.js would otherwise re-send for as long as Discord answers 429.
    for (let i = 0; i < 6; i++) fake.injectRateLimit(route, 0.05, 'POST');
    const err = await d.result(ctx, resultFor(ctx), await files()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(fake.callsTo('POST', route).slice(before).map((c) => c.status)).toEqual([429, 429, 429, 429]);
    expect(d.classifyError(err)).toMatchObject({ verdict: 'retry', status: 429 });
    fake.faults.length = 0;
  });

  it('retries nothing itself: a 5xx is answered once and read as worth a retry (the delivery service retries)', async () => {
    const d = deliverer();
    const ctx = context(null);
    const route = new RegExp(`^/channels/${fake.channelId}/messages$`);
    const before = fake.callsTo('POST', route).length;
    fake.injectFault({ method: 'POST', path: route, status: 502, times: 2 });
    const err = await d.result(ctx, resultFor(ctx), await files()).catch((e: unknown) => e);
    expect(fake.callsTo('POST', route).slice(before).map((p) => p.status)).toEqual([502]);
    expect(d.classifyError(err)).toEqual({ verdict: 'retry', status: 502 });
  });

  it('re-encodes an image over the guild attachment limit and says so', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    const grid = await noisePng(256);
    const limit = Math.floor(grid.length / 3);
    await rememberAttachmentLimit(kv, ctx.payload.origin, limit);
    fake.attachmentSizeLimit = limit;
    await d.result(ctx, resultFor(ctx), { grid, images: [grid] });
    const msg = fake.messages.get(it.originalMessageId!)!;
    expect(msg.files).toHaveLength(1);
    expect(msg.files[0].data.length).toBeLessThanOrEqual(limit);
    const meta = await sharp(msg.files[0].data).metadata();
    expect(['webp', 'jpeg']).toContain(meta.format);
    expect(msg.files[0].name).toMatch(meta.format === 'webp' ? /\.webp$/ : /\.jpg$/);
    expect(msg.content).toMatch(/over this server's upload limit, so it was re-encoded as (WEBP|JPEG)/);
  });

  it('shrinks further when Discord refuses an upload it had advertised room for', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    const grid = await noisePng(192);
    fake.attachmentSizeLimit = Math.floor(grid.length / 4);
    await d.result(ctx, resultFor(ctx), { grid, images: [grid] });
    const tries = fake.callsTo('PATCH', new RegExp(`/${it.token}/messages/@original$`));
    expect(tries[0].status).toBe(413);
    expect(tries.at(-1)!.status).toBe(200);
    expect(fake.messages.get(it.originalMessageId!)!.files[0].data.length).toBeLessThanOrEqual(fake.attachmentSizeLimit);
    // The size that worked is remembered for the guild, so the next upload fits at the first try.
    expect(await attachmentLimitFor(kv, ctx.payload.origin)).toBeLessThanOrEqual(fake.attachmentSizeLimit);
  });

  it('hides flagged images behind a spoiler, or withholds them', async () => {
    const spoiler = deliverer({ nsfwMode: 'spoiler' });
    const a = fake.deferredInteraction();
    const ctxA = context(a, 1);
    await spoiler.result(ctxA, flagged(resultFor(ctxA)), await files());
    const msgA = fake.messages.get(a.originalMessageId!)!;
    expect(msgA.files[0].name).toMatch(/^SPOILER_imagine-/);
    expect(msgA.content).toContain('hidden behind a spoiler');

    const withhold = deliverer({ nsfwMode: 'withhold' });
    const b = fake.deferredInteraction();
    const ctxB = context(b, 1);
    await withhold.result(ctxB, flagged(resultFor(ctxB)), await files());
    const msgB = fake.messages.get(b.originalMessageId!)!;
    expect(msgB.files).toEqual([]);
    expect(msgB.content).toContain('withheld in this channel');
    // Single-image results still get their buttons.
    expect(allCustomIds(msgB.components)).toEqual([
      `im1:u:${resultFor(ctxB).resultId}:0`,
      `im1:r:r_${ctxB.jobId}`,
      `im1:s:r_${ctxB.jobId}:0`,
      `im1:x:r_${ctxB.jobId}:0`,
      `im1:d:r_${ctxB.jobId}`,
      ...['rx', 'z2', 'z15', 'zc', 'pl', 'pr', 'pu', 'pd'].map((code) => `im1:${code}:r_${ctxB.jobId}:0`),
    ]);
  });

  it('shows a failure with a Retry button and removes the preview', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    await d.progress(ctx, { step: 1, total: 4, etaMs: null, preview: (await files(16)).grid });
    await d.failure(deliveryTarget(ctx), { message: 'The model failed to load.', retry: true });
    const msg = fake.messages.get(it.originalMessageId!)!;
    expect(msg.content).toContain('❌ The model failed to load.');
    expect(allCustomIds(msg.components)).toEqual([`im1:t:${ctx.jobId}`]);
    expect(msg.attachments).toEqual([]);
  });

  it('turns a refusal that will not change into a permanent delivery error', async () => {
    const d = deliverer();
    const ctx = context(null);
    fake.injectFault({ method: 'POST', path: /\/messages$/, status: 403, body: { message: 'Missing Access', code: 50001 } });
    await expect(d.result(ctx, resultFor(ctx), await files())).rejects.toBeInstanceOf(PermanentDeliveryError);
  });

  it('never lets the interaction token into an error', async () => {
    const d = deliverer();
    const it = fake.deferredInteraction();
    const ctx = context(it);
    fake.injectFault({ method: 'PATCH', path: /^\/webhooks\//, status: 503 });
    const err = await d.progress(ctx, { step: 1, total: 4, etaMs: null }).then(() => null, (e: unknown) => e as Error & { url?: string; status?: number });
    expect(err?.status).toBe(503);
    expect(err?.url).toContain('[interaction-token]');
    expect(`${err?.message} ${err?.url} ${err?.stack}`).not.toContain(it.token);

    fake.injectFault({ method: 'PATCH', path: /^\/webhooks\//, status: 403, body: { message: 'Missing Permissions', code: 50013 } });
    const refused = await d.progress(ctx, { step: 1, total: 4, etaMs: null }).then(() => null, (e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(PermanentDeliveryError);
    expect(d.classifyError(refused)).toEqual({ verdict: 'permanent', status: 403 });
    expect(refused!.message).toContain('Missing Permissions');
    expect(refused!.message).not.toContain(it.token);
  });
});
