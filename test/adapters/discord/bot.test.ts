/**
 * The bot half alone (the real discord.js client, no worker, so jobs stay queued where the test
 * can read them): PRESS_POLICY=roles:<id>, with role ids from the member Discord sends with the
 * press or reaction; and the queue's refusals reaching the user.
 */
import { readdir } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderResult } from '../../../adapters/discord/render.ts';
import { createDiscordRest } from '../../../adapters/discord/rest.ts';
import { buildSlashCommands, registerSlashCommands } from '../../../adapters/discord/slash-commands.ts';
import { limitsFromConfig } from '../../../commands/context.ts';
import { loadConfig } from '../../../src/root/config.ts';
import { JOB_VERSION, type JobPayload, type JobResult } from '../../../src/jobs.ts';
import { refusalMessage } from '../../../src/queue/limits.ts';
import { startDiscordHarness, type DiscordHarness } from '../../support/discord-harness.ts';
import type { FakeAttachment, FakeInteraction, FakeMessage, FakeUser } from '../../support/fake-discord.ts';
import { discordOriginData } from '../../../adapters/discord/origin-data.ts';

const MODERATOR_ROLE = '4000000000000000001';
let h: DiscordHarness;
let requester: FakeUser;
let member: FakeUser;
let moderator: FakeUser;

beforeAll(async () => {
  h = await startDiscordHarness({ worker: false, env: { PRESS_POLICY: `roles:${MODERATOR_ROLE}` } });
  requester = h.fake.user('3100000000000000001', 'alice');
  member = h.fake.user('3100000000000000002', 'bob');
  moderator = h.fake.user('3100000000000000003', 'carol');
  h.fake.createRole(MODERATOR_ROLE, 'moderators');
  h.fake.createRole('4000000000000000999', 'members');
}, 60_000);

afterAll(async () => {
  await h?.close();
});

/** A result (of `requester`'s unless `owner` is given) as a worker would have left it: stored in Redis and shown in a message with its buttons. */
async function postedResult(resultId: string, owner: FakeUser = requester): Promise<{ result: JobResult; message: FakeMessage }> {
  const model = h.models.defaultModel;
  const params = { prompt: 'a green square on a white background', negativePrompt: '', seed: 5, steps: 4, guidance: 7, width: 64, height: 64, n: 2, sampler: 'euler' as const, model: model.name };
  const origin = { platform: 'discord' as const, workspaceId: h.fake.guildId, channelId: h.fake.channelId, userId: owner.id, applicationId: h.fake.applicationId };
  const result: JobResult = {
    v: JOB_VERSION,
    resultId,
    jobId: `job-${resultId}`,
    kind: 'txt2img',
    params,
    origin,
    images: [0, 1].map((i) => ({ artifact: { key: `${resultId}/${i}.png`, bytes: 10, contentType: 'image/png' }, seed: 5 + i, width: 64, height: 64 })),
    timings: { totalMs: 100 },
    model: model.name,
    sampler: 'euler',
    provider: 'cpu',
    createdAt: Date.now(),
  };
  const payload: JobPayload = { v: JOB_VERSION, kind: 'txt2img', origin, params, createdAt: Date.now() };
  const rendered = renderResult(payload, result);
  const res = await fetch(`${h.fake.apiUrl}/v10/channels/${h.fake.channelId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bot ${h.fake.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content: rendered.content, components: rendered.components }),
  });
  const { id } = (await res.json()) as { id: string };
  await h.results.save({ ...result, messageId: id }, 3600);
  return { result, message: h.fake.messages.get(id)! };
}

const ephemeralFollowUp = (press: FakeInteraction) => h.fake.waitFor(() => [...h.fake.messages.values()].find((m) => m.interactionId === press.id && m.flags & 64), 'the ephemeral answer');

describe('press policy: roles', () => {
  it('refuses members without the role and lets role holders vary and remove', async () => {
    const { result, message } = await postedResult('r_roles_1');

    const refused = h.fake.pressButton({ messageId: message.id, customId: `im1:v:${result.resultId}:0`, user: member, roles: ['4000000000000000999'] });
    expect((await ephemeralFollowUp(refused)).content).toBe('Only the person who asked for this image, or members with an allowed role, can use these buttons.');
    expect(await h.queue.userJobs(member.id)).toEqual([]);

    const allowed = h.fake.pressButton({ messageId: message.id, customId: `im1:v:${result.resultId}:0`, user: moderator, roles: [MODERATOR_ROLE] });
    const status = await h.fake.waitFor(
      () => [...h.fake.messages.values()].find((m) => m.interactionId === allowed.id && /Queued — position \d+/.test(m.content)),
      'the queued follow-up',
    );
    expect(status.flags & 64).toBe(0);
    const [job] = await h.queue.userJobs(moderator.id);
    expect(job.payload.kind).toBe('variation');
    expect(discordOriginData(job.payload.origin).roleIds).toEqual([MODERATOR_ROLE]);
    expect(job.payload.origin.messageId).toBe(status.id);
    expect(job.payload.parentResultId).toBe(result.resultId);

    h.fake.pressButton({ messageId: message.id, customId: `im1:d:${result.resultId}`, user: moderator, roles: [MODERATOR_ROLE] });
    await h.fake.waitFor(() => h.fake.messages.get(message.id)!.deleted, 'the removal');
    expect(await h.results.get(result.resultId)).toBeNull();
  });

  it('applies the same rule to reactions, silently ignoring the ones not allowed', async () => {
    const { result, message } = await postedResult('r_roles_2');
    h.fake.react({ messageId: message.id, emoji: '2️⃣', user: member });
    h.fake.react({ messageId: message.id, emoji: '2️⃣', user: moderator, roles: [MODERATOR_ROLE] });
    const status = await h.fake.waitFor(() => h.fake.channelMessages().find((m) => m.referencedMessageId === message.id && /Queued — position \d+/.test(m.content)), 'the queued reply');
    const jobs = await h.queue.userJobs(moderator.id);
    const job = jobs.find((j) => j.payload.parentResultId === result.resultId)!;
    expect(job.payload.kind === 'variation' && job.payload.source).toEqual({ resultId: result.resultId, index: 1 });
    expect(job.payload.origin.messageId).toBe(status.id);
    expect(await h.queue.userJobs(member.id)).toEqual([]);
    expect(h.fake.channelMessages().filter((m) => m.referencedMessageId === message.id)).toHaveLength(1);
  });
});

describe('Discord API reference conformance', () => {
  it('registers guild commands without contexts, which Discord defines for global commands only', async () => {
    const puts = h.fake.callsTo('PUT', new RegExp(`^/applications/${h.fake.applicationId}/guilds/${h.fake.guildId}/commands$`));
    expect(puts.length).toBeGreaterThan(0);
    const names = puts.at(-1)!.body.map((c: { name: string }) => c.name);
    expect(names).toEqual(['imagine', 'cancel', 'queue', 'help']);
    for (const command of puts.at(-1)!.body) {
      expect(command).not.toHaveProperty('contexts');
      expect(command).not.toHaveProperty('integration_types');
    }
    // Global registration keeps them: guilds and the bot's DMs.
    await registerSlashCommands(createDiscordRest(h.fake.token, h.fake.apiUrl), h.fake.applicationId, [], buildSlashCommands(limitsFromConfig(loadConfig({}))));
    const global = h.fake.callsTo('PUT', new RegExp(`^/applications/${h.fake.applicationId}/commands$`)).at(-1)!;
    expect(global.body.map((c: { contexts?: number[] }) => c.contexts)).toEqual([[0, 1], [0, 1], [0, 1], [0, 1]]);
  });

  it('posts a reaction\'s status message with nonce and enforce_nonce; the same reaction replayed keeps that one message', async () => {
    const { result, message } = await postedResult('r_nonce_1');
    h.fake.react({ messageId: message.id, emoji: '1️⃣', user: requester });
    const status = await h.fake.waitFor(() => h.fake.channelMessages().find((m) => m.referencedMessageId === message.id && /Queued — position \d+/.test(m.content)), 'the queued reply');
    const posts = () => h.fake.callsTo('POST', new RegExp(`^/channels/${h.fake.channelId}/messages$`)).filter((c) => c.body?.message_reference?.message_id === message.id);
    expect(posts()).toHaveLength(1);
    const nonce = posts()[0].body.nonce;
    expect(posts()[0].body.enforce_nonce).toBe(true);
    expect(typeof nonce).toBe('string');
    expect(nonce.length).toBeLessThanOrEqual(25);

    // The gateway delivers the same reaction again: the nonce gives back the first message, which stays.
    h.fake.react({ messageId: message.id, emoji: '1️⃣', user: requester });
    await h.fake.waitFor(() => (posts().length === 2 ? posts()[1] : undefined), 'the replayed post');
    await new Promise((r) => setTimeout(r, 300));
    expect(posts()[1].body.nonce).toBe(nonce);
    expect(h.fake.channelMessages().filter((m) => m.referencedMessageId === message.id).map((m) => m.id)).toEqual([status.id]);
    expect(h.fake.messages.get(status.id)!.deleted).toBe(false);
    const jobs = (await h.queue.userJobs(requester.id)).filter((j) => j.payload.parentResultId === result.resultId);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].payload.origin.messageId).toBe(status.id);
  });
});

describe('buttons count only on the message that shows their target', () => {
  const WRONG_MESSAGE = 'This button does not belong to this message, so nothing was done.';

  it('refuses ✖ and V1 of your own result pressed on someone else\'s result message', async () => {
    const { message: victim, result: victimResult } = await postedResult('r_victim_1');
    const { result: own, message: ownMessage } = await postedResult('r_forger_1', member);

    for (const customId of [`im1:d:${own.resultId}`, `im1:v:${own.resultId}:0`]) {
      const forged = h.fake.pressButton({ messageId: victim.id, customId, user: member, forged: true });
      expect((await ephemeralFollowUp(forged)).content).toBe(WRONG_MESSAGE);
    }
    expect(h.fake.messages.get(victim.id)!.deleted).toBe(false);
    expect(h.fake.messages.get(ownMessage.id)!.deleted).toBe(false);
    expect(await h.results.get(victimResult.resultId)).not.toBeNull();
    expect(await h.results.get(own.resultId)).not.toBeNull();
    expect(await h.queue.userJobs(member.id)).toEqual([]);

    // On its own message the same ✖ still works.
    h.fake.pressButton({ messageId: ownMessage.id, customId: `im1:d:${own.resultId}`, user: member });
    await h.fake.waitFor(() => h.fake.messages.get(ownMessage.id)!.deleted, 'the removal');
  });

  it('refuses ✖ of your own queued job pressed on another message, and leaves that message alone', async () => {
    const user = h.fake.user('3100000000000000010', 'erin');
    const it = h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: 'a purple square on a grey background' }], user });
    await h.fake.waitFor(() => /Queued — position \d+/.test(h.fake.messages.get(it.originalMessageId ?? '')?.content ?? ''), 'the queued reply');
    const [job] = await h.queue.userJobs(user.id);
    const { message: victim } = await postedResult('r_victim_2');
    const contentBefore = victim.content;

    const forged = h.fake.pressButton({ messageId: victim.id, customId: `im1:c:${job.jobId}`, user, forged: true });
    expect((await ephemeralFollowUp(forged)).content).toBe(WRONG_MESSAGE);
    expect((await h.queue.userJobs(user.id)).map((j) => j.jobId)).toEqual([job.jobId]);
    expect(h.fake.messages.get(victim.id)!.content).toBe(contentBefore);
    expect(h.fake.messages.get(victim.id)!.deleted).toBe(false);

    h.fake.pressButton({ messageId: it.originalMessageId!, customId: `im1:c:${job.jobId}`, user });
    await h.fake.waitFor(() => /Cancelled\.$/.test(h.fake.messages.get(it.originalMessageId!)!.content), 'the cancellation');
    expect(await h.queue.userJobs(user.id)).toEqual([]);
  });
});

describe('queue limits', () => {
  it('a refused /imagine removes the public placeholder and explains, to the user only', async () => {
    const user = h.fake.user('3100000000000000009', 'dave');
    const limit = h.config.LIMIT_USER_QUEUED;
    for (let i = 0; i < limit; i++) {
      const it = h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: `a blue circle on a red background --seed ${i}` }], user });
      await h.fake.waitFor(() => /Queued — position \d+/.test(h.fake.messages.get(it.originalMessageId ?? '')?.content ?? ''), `job ${i + 1}`);
    }
    const refused = h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: 'one too many' }], user });
    const notice = await ephemeralFollowUp(refused);
    expect(refused.callbackType).toBe(5);
    expect(h.fake.messages.get(refused.originalMessageId!)!.deleted).toBe(true);
    expect(notice.content).toBe(refusalMessage('user-queued-limit', h.config));
    expect(await h.queue.userJobs(user.id)).toHaveLength(limit);
  });
});

describe('start images: fetched only for an admitted job, read within the limit, decoded in full', () => {
  const image = (upload: { id: string }) => ({ name: 'image', type: 11, value: upload.id });
  const imagine = (user: FakeUser, text: string, upload: FakeAttachment) =>
    h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: text }, image(upload)], attachments: [upload], user });
  /** Start images the bot stored for an interaction (the artifact store is a folder here). */
  const storedUploads = async (interactionId: string) => (await readdir(h.config.ARTIFACT_DIR, { recursive: true }).catch(() => [] as string[])).filter((f) => f.includes(interactionId));
  const noisePng = (side: number) => sharp(Buffer.from(Array.from({ length: side * side * 3 }, (_, i) => (i * 2654435761) >>> 24)), { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();

  it('stores the attachment of an admitted job and queues it as the start image', async () => {
    const user = h.fake.user('3100000000000000020', 'fay');
    const upload = h.fake.addUpload('start.png', await noisePng(64), 'image/png', { width: 64, height: 64 });
    const it = imagine(user, 'a painted fox', upload);
    await h.fake.waitFor(() => /Queued — position \d+/.test(h.fake.messages.get(it.originalMessageId ?? '')?.content ?? ''), 'the queued reply');
    const [job] = await h.queue.userJobs(user.id);
    expect(job.payload.kind === 'txt2img' && job.payload.initImage?.artifactKey).toBe(`uploads/discord-${it.id}.png`);
    expect(await storedUploads(it.id)).toHaveLength(1);
    expect(h.fake.uploadFetches.get(upload.id)?.requests).toBe(1);
  });

  it('neither downloads nor stores the attachment of a job the per-user limit refuses', async () => {
    const user = h.fake.user('3100000000000000021', 'gus');
    for (let i = 0; i < h.config.LIMIT_USER_QUEUED; i++) {
      const it = h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: `a calm lake --seed ${i}` }], user });
      await h.fake.waitFor(() => /Queued — position \d+/.test(h.fake.messages.get(it.originalMessageId ?? '')?.content ?? ''), `job ${i + 1}`);
    }
    const upload = h.fake.addUpload('start.png', await noisePng(64), 'image/png', { width: 64, height: 64 });
    const refused = imagine(user, 'one too many, with an image', upload);
    expect((await ephemeralFollowUp(refused)).content).toBe(refusalMessage('user-queued-limit', h.config));
    expect(h.fake.uploadFetches.get(upload.id)).toBeUndefined();
    expect(await storedUploads(refused.id)).toEqual([]);
    expect(await h.queue.userJobs(user.id)).toHaveLength(h.config.LIMIT_USER_QUEUED);
  });

  it('stops reading a body that runs past 10 MB, whatever Discord said its size was, and gives the slot back', async () => {
    const user = h.fake.user('3100000000000000022', 'hal');
    const upload = h.fake.addStreamingUpload('huge.png', 'image/png', 200 * 1024 * 1024, 1024 * 1024);
    const refused = imagine(user, 'an endless image', upload);
    expect((await ephemeralFollowUp(refused)).content).toBe('The attached image is over the 10 MB limit.');
    const sent = h.fake.uploadFetches.get(upload.id)!.bytesSent;
    console.log(`streamed before the bot hung up: ${(sent / 1024 / 1024).toFixed(1)} MB of 200 MB`);
    expect(sent).toBeLessThan(40 * 1024 * 1024);
    expect(await storedUploads(refused.id)).toEqual([]);
    expect(await h.queue.userJobs(user.id)).toEqual([]);
    // The reservation was released: the user can queue again at once.
    const next = h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: 'a small image after all' }], user });
    await h.fake.waitFor(() => /Queued — position \d+/.test(h.fake.messages.get(next.originalMessageId ?? '')?.content ?? ''), 'the queued reply');
  });

  it('refuses a PNG cut short, which passes the header checks, saying it could not be read', async () => {
    const user = h.fake.user('3100000000000000023', 'ivy');
    const whole = await noisePng(256);
    const upload = h.fake.addUpload('cut.png', whole.subarray(0, Math.floor(whole.length * 0.6)), 'image/png', { width: 256, height: 256 });
    const refused = imagine(user, 'a damaged start image', upload);
    expect((await ephemeralFollowUp(refused)).content).toBe('The attached image could not be read (the file may be damaged or cut short); please attach it again.');
    expect(await storedUploads(refused.id)).toEqual([]);
    expect(await h.queue.userJobs(user.id)).toEqual([]);
  });
});
