/**
 * One layer retries: the delivery service (withDeliveryRetry) over the real Discord and Slack
 * deliverers and their real clients, against the loopback fakes. Requests are counted on the
 * fakes, so a retry hidden in a client or a deliverer would show as extra requests. A post
 * the retry layer gives up on is recorded in the ledger, counted, and the requester is told.
 */
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordDeliverer } from '../../adapters/discord/deliver.ts';
import { createDiscordRest } from '../../adapters/discord/rest.ts';
import { ChannelPacer } from '../../adapters/slack/channel-pacer.ts';
import { createSlackDeliverer } from '../../adapters/slack/deliver.ts';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { loadConfig } from '../../src/root/config.ts';
import { DelivererRegistry } from '../../src/deliverer-registry.ts';
import type { RetryPolicy } from '../../src/delivery-retry.ts';
import { DeliveryService } from '../../src/delivery-service.ts';
import { JOB_VERSION, jobPayloadSchema, parseJobResult, type JobPayload, type Origin } from '../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { storeSecret } from '../../src/platform-secrets.ts';
import { ResultStore } from '../../src/results.ts';
import { FakeDiscord } from '../support/fake-discord.ts';
import { FakeSlack } from '../../kit/fake-slack.ts';
import { tempDir } from '../../kit/worker-fixtures.ts';
import { interactionTokenGrant } from '../../adapters/discord/secret.ts';

const silent = createLogger({ level: 'silent' });
const POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 20, maxDelayMs: 100, maxRetryAfterMs: 5_000, callTimeoutMs: 5_000 };
const TTL_S = 2 * 86_400;
const SLACK_CHANNEL = 'C0IMAGINE';

let discord: FakeDiscord;
let slack: FakeSlack;
let artifactDir: string;
let grid: Buffer;
let jobs = 0;

beforeAll(async () => {
  discord = await FakeDiscord.start();
  slack = await FakeSlack.start();
  artifactDir = tempDir('delivery-retry-artifacts');
  grid = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#204080' } }).png().toBuffer();
});
afterAll(async () => {
  await discord.close();
  await slack.close();
  await fs.rm(artifactDir, { recursive: true, force: true });
});

interface Rig {
  service: DeliveryService;
  kv: MemoryKeyValueStore;
  metrics: Metrics;
}

function rig(): Rig {
  const kv = new MemoryKeyValueStore();
  const metrics = createMetrics();
  const slackConfig = loadConfig({ SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: 'signing-secret-1', SLACK_API_URL: slack.apiUrl, LOG_LEVEL: 'silent' });
  const deliverers = new DelivererRegistry([
    new DiscordDeliverer({ rest: createDiscordRest(discord.token, discord.apiUrl, { timeoutMs: 5_000, maxRateLimitWaitMs: 300 }), kv, applicationId: discord.applicationId, nsfwMode: 'spoiler' }),
    createSlackDeliverer(slackConfig, kv, { logger: silent, timeoutMs: 5_000, pacer: new ChannelPacer(kv, { intervalMs: 0 }), minProgressIntervalMs: 0 }),
  ]);
  const service = new DeliveryService({ kv, results: new ResultStore(kv), artifacts: new FsArtifactStore(artifactDir), deliverers, metrics, logger: silent, ttlS: TTL_S, retryPolicy: POLICY });
  return { service, kv, metrics };
}

/** A stored one-image result for a job from `origin`, as a worker leaves it; returns its delivery task. */
async function storedJob(r: Rig, origin: Origin) {
  const jobId = `job-${++jobs}-${Date.now()}`;
  const payload: JobPayload = jobPayloadSchema.parse({
    v: JOB_VERSION,
    kind: 'txt2img',
    origin,
    params: { prompt: 'a lighthouse at dusk', negativePrompt: '', seed: 3, steps: 4, guidance: 5, width: 64, height: 64, n: 1, sampler: 'euler', model: 'tiny' },
    createdAt: Date.now(),
  });
  const resultId = `r${jobs}x${Date.now()}`;
  const artifacts = new FsArtifactStore(artifactDir);
  const ref = await artifacts.put(`${resultId}/0.png`, grid, 'image/png');
  const result = parseJobResult({
    v: JOB_VERSION,
    resultId,
    jobId,
    kind: 'txt2img',
    params: payload.params,
    origin,
    images: [{ artifact: ref, seed: 3, width: 64, height: 64 }],
    timings: { totalMs: 10 },
    model: 'tiny',
    sampler: 'euler',
    provider: 'cpu',
    createdAt: Date.now(),
  });
  await new ResultStore(r.kv).save(result, TTL_S);
  return { outcome: 'result' as const, jobId, payload, resultId };
}

const discordOrigin = (extra: Partial<Origin> = {}): Origin => ({
  platform: 'discord',
  workspaceId: discord.guildId,
  channelId: discord.channelId,
  userId: '2000000000000000001',
  platformData: { applicationId: discord.applicationId },
  ...extra,
});

function slackJob() {
  const parent = slack.postBotMessage(SLACK_CHANNEL, 'asked for: a lighthouse at dusk');
  const status = slack.postBotMessage(SLACK_CHANNEL, 'Queued', parent.ts);
  const origin: Origin = { platform: 'slack', workspaceId: slack.teamId, channelId: SLACK_CHANNEL, threadId: parent.ts, userId: 'U0ALICE', messageId: status.ts };
  return { origin, parent, status };
}

async function deliveriesMetric(m: Metrics, platform: string, outcome: string): Promise<number> {
  const line = (await m.render()).split('\n').find((l) => l.startsWith(`imagine_deliveries_total{platform="${platform}",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const channelPosts = () => new RegExp(`^/channels/${discord.channelId}/messages$`);

describe('Discord through the delivery service', () => {
  it('502, 502, then 200: one message, three requests in all (no retry inside the deliverer or discord.js)', async () => {
    const r = rig();
    const task = await storedJob(r, discordOrigin());
    const before = discord.callsTo('POST', channelPosts()).length;
    discord.injectFault({ method: 'POST', path: channelPosts(), status: 502, times: 2 });
    const out = await r.service.deliver(task);
    expect(out.posted).toBe(true);
    const posts = discord.callsTo('POST', channelPosts()).slice(before);
    expect(posts.map((p) => p.status)).toEqual([502, 502, 200]);
    expect(discord.channelMessages().filter((m) => m.id === out.messageId)).toHaveLength(1);
    expect(await r.service.ledger.get(task.jobId)).toMatchObject({ state: 'done', messageId: out.messageId });
  });

  it("429 beyond the client's bounded wait: the retry layer waits Discord's Retry-After, then posts once", async () => {
    const r = rig();
    const task = await storedJob(r, discordOrigin());
    const before = discord.callsTo('POST', channelPosts()).length;
    // Retry-After 1 s is over this client's 300 ms bound, so discord.js hands it back instead of waiting.
    discord.injectRateLimit(channelPosts(), 1, 'POST');
    const out = await r.service.deliver(task);
    expect(out.posted).toBe(true);
    const posts = discord.callsTo('POST', channelPosts()).slice(before);
    expect(posts.map((p) => p.status)).toEqual([429, 200]);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(1000);
  });

  it('5xx on every try: stops at the attempt bound, records the failure and counts it', async () => {
    const r = rig();
    const task = await storedJob(r, discordOrigin());
    const before = discord.callsTo('POST', channelPosts()).length;
    // Result posts carry the image; the failure notice that follows does not (and also meets the 503s).
    discord.injectFault({ method: 'POST', path: channelPosts(), status: 503, times: 20, when: (c) => c.files.length > 0 });
    const out = await r.service.deliver(task);
    expect(out.posted).toBe(false);
    expect(discord.callsTo('POST', channelPosts()).slice(before).filter((c) => c.files.length > 0)).toHaveLength(POLICY.attempts);
    expect(await r.service.ledger.get(task.jobId)).toMatchObject({ state: 'failed', outcome: 'result', reason: expect.stringContaining('failed after 4 tries') });
    expect(await deliveriesMetric(r.metrics, 'discord', 'failed')).toBe(1);
    discord.faults.length = 0;
  });

  it('a refusal that will not change (400 on the upload) is tried once; the reply then says the result could not be posted', async () => {
    const r = rig();
    const interaction = discord.deferredInteraction();
    const task = await storedJob(r, discordOrigin({ eventId: interaction.id }));
    await storeSecret(r.kv, task.jobId, interactionTokenGrant(interaction.token));
    const original = new RegExp(`/${interaction.token}/messages/@original$`);
    discord.injectFault({ method: 'PATCH', path: original, status: 400, body: { message: 'Invalid Form Body', code: 50035 }, when: (c) => c.files.length > 0 });
    const out = await r.service.deliver(task);
    expect(out).toMatchObject({ posted: false, failed: expect.stringContaining('Invalid Form Body') });
    const tries = discord.callsTo('PATCH', original);
    expect(tries.filter((c) => c.files.length > 0).map((c) => c.status)).toEqual([400]);
    const reply = discord.messages.get(interaction.originalMessageId!)!;
    expect(reply.content).toContain('Your images were made, but they could not be posted here: the platform refused the post');
    expect(reply.content).toContain(`They are kept for 2 days as result ${task.resultId}.`);
    expect(await r.service.ledger.get(task.jobId)).toMatchObject({ state: 'failed', notified: true });
    expect(await deliveriesMetric(r.metrics, 'discord', 'failed')).toBe(1);
    expect(await deliveriesMetric(r.metrics, 'discord', 'failure-notice-posted')).toBe(1);
  });

  it('403 Missing Access is not retried; the notice meets the same refusal and the failure stays on record', async () => {
    const r = rig();
    const task = await storedJob(r, discordOrigin());
    const before = discord.callsTo('POST', channelPosts()).length;
    discord.injectFault({ method: 'POST', path: channelPosts(), status: 403, body: { message: 'Missing Access', code: 50001 }, times: 2 });
    const out = await r.service.deliver(task);
    expect(out.posted).toBe(false);
    const posts = discord.callsTo('POST', channelPosts()).slice(before);
    // One try of the result (with its file), one of the notice (without): both refused, neither retried.
    expect(posts.map((p) => [p.status, p.files.length])).toEqual([
      [403, 1],
      [403, 0],
    ]);
    const record = await r.service.ledger.get(task.jobId);
    expect(record).toMatchObject({ state: 'failed', reason: expect.stringContaining('Missing Access') });
    expect(record).not.toHaveProperty('notified');
  });
});

describe('Slack through the delivery service', () => {
  it('chat.postMessage 500, 500, then ok: one upload, one result message, three posts (the WebClient retries nothing)', async () => {
    const r = rig();
    const { origin, parent } = slackJob();
    const task = await storedJob(r, origin);
    const posts0 = slack.callsTo('chat.postMessage').length;
    const uploads0 = slack.uploads.filter((u) => u.completed).length;
    slack.failNext('chat.postMessage', { status: 500 }, 2);
    const out = await r.service.deliver(task);
    expect(out.posted).toBe(true);
    expect(slack.callsTo('chat.postMessage').slice(posts0).map((c) => c.status)).toEqual([500, 500, 200]);
    expect(slack.uploads.filter((u) => u.completed).length - uploads0).toBe(1);
    expect(slack.threadReplies(SLACK_CHANNEL, parent.ts).filter((m) => m.ts === out.messageId)).toHaveLength(1);
  });

  it('5xx on every try: exactly as many posts as the policy allows attempts, then the failure is recorded', async () => {
    const r = rig();
    const { origin } = slackJob();
    const task = await storedJob(r, origin);
    const posts0 = slack.callsTo('chat.postMessage').length;
    // As many 5xx as the policy allows attempts: a retry hidden in the client would get past them.
    slack.failNext('chat.postMessage', { status: 503 }, POLICY.attempts);
    const out = await r.service.deliver(task);
    expect(out.posted).toBe(false);
    expect(slack.callsTo('chat.postMessage').slice(posts0)).toHaveLength(POLICY.attempts);
    expect(await r.service.ledger.get(task.jobId)).toMatchObject({ state: 'failed', reason: expect.stringContaining('failed after 4 tries') });
  });

  it("429: the retry layer waits Slack's Retry-After (the deliverer does not), then posts once", async () => {
    const r = rig();
    const { origin } = slackJob();
    const task = await storedJob(r, origin);
    const posts0 = slack.callsTo('chat.postMessage').length;
    slack.failNext('chat.postMessage', { status: 429, retryAfterS: 1 });
    const out = await r.service.deliver(task);
    expect(out.posted).toBe(true);
    const posts = slack.callsTo('chat.postMessage').slice(posts0);
    expect(posts.map((c) => c.status)).toEqual([429, 200]);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(1000);
  });

  it('channel_not_found on the upload is not retried; the status message says the result could not be posted', async () => {
    const r = rig();
    const { origin, status } = slackJob();
    const task = await storedJob(r, origin);
    const asked0 = slack.callsTo('files.getUploadURLExternal').length;
    slack.failNext('files.getUploadURLExternal', { error: 'channel_not_found' });
    const out = await r.service.deliver(task);
    expect(out).toMatchObject({ posted: false, failed: expect.stringContaining('channel_not_found') });
    expect(slack.callsTo('files.getUploadURLExternal').slice(asked0).map((c) => c.error)).toEqual(['channel_not_found']);
    expect(JSON.stringify(slack.message(SLACK_CHANNEL, status.ts)!.blocks)).toContain(`could not be posted here: the platform refused the post (Slack refused files.uploadV2: channel_not_found). They are kept for 2 days as result ${task.resultId}.`);
    expect(await r.service.ledger.get(task.jobId)).toMatchObject({ state: 'failed', outcome: 'result', notified: true });
    expect(await deliveriesMetric(r.metrics, 'slack', 'failed')).toBe(1);
  });
});
