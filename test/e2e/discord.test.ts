/**
 * Discord end to end: the real discord.js client (the bot) and a real worker process (the
 * real deliverer) against the loopback fake Discord, on a real Redis, with the embedded model.
 * Each test is one user story; they share one bot, worker and Redis to keep the run short.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { storedResultFor } from '../support/e2e-stack.ts';
import { hasResult, startDiscordHarness, type DiscordHarness } from '../support/discord-harness.ts';
import type { FakeInteraction, FakeMessage, FakeUser } from '../support/fake-discord.ts';
import type { JobResult } from '../../src/jobs.ts';
import { checkImage, splitGrid } from '../support/tiny-model-check.ts';

let h: DiscordHarness;
let requester: FakeUser;
let stranger: FakeUser;
/** The first /imagine result, which later stories press buttons and react on. */
let grid: FakeMessage;
let gridInteraction: FakeInteraction;

const PROMPT = 'a red circle on a blue background';
const STEPS = 10;

beforeAll(async () => {
  // Every story is the same user: the per-user rate limit would otherwise stop the later ones.
  h = await startDiscordHarness({ env: { MAX_STEPS: '12', LIMIT_USER_PER_MINUTE: '1000', LIMIT_USER_QUEUED: '20' } });
  requester = h.fake.user('3000000000000000001', 'alice');
  stranger = h.fake.user('3000000000000000002', 'bob');
}, 120_000);

afterAll(async () => {
  await h?.close();
});

const ids = (m: FakeMessage) => m.components.flatMap((row: any) => row.components.map((c: any) => c.custom_id as string));
const labels = (m: FakeMessage) => m.components.map((row: any) => row.components.map((c: any) => c.label as string));
const prompt = (text: string) => [{ name: 'prompt', type: 3, value: text }];

/** Messages created for an interaction's follow-ups (button presses show their job there). */
function followUps(interaction: FakeInteraction): FakeMessage[] {
  return [...h.fake.messages.values()].filter((m) => m.interactionId === interaction.id && m.id !== interaction.originalMessageId);
}

/** The stored result a message shows (the worker indexes it by message id right after posting). */
const storedFor = (messageId: string): Promise<JobResult> => storedResultFor(h.results, 'discord', messageId);

async function jobCount(): Promise<number> {
  const c = await h.queue.counts();
  return c.waiting + c.active + c.completed + c.failed + c.delayed;
}

describe('Discord end to end', () => {
  it('registers the commands per guild and connects without privileged intents', () => {
    const put = h.fake.callsTo('PUT', new RegExp(`^/applications/${h.fake.applicationId}/guilds/${h.fake.guildId}/commands$`));
    expect(put).toHaveLength(1);
    expect(put[0].body.map((c: any) => c.name)).toEqual(['imagine', 'cancel', 'queue', 'help']);
    expect(put[0].body[0].options.map((o: any) => o.name)).toEqual(['prompt', 'negative', 'seed', 'steps', 'guidance', 'aspect', 'count', 'sampler', 'model', 'image', 'strength']);
    const count = put[0].body[0].options.find((o: any) => o.name === 'count');
    expect([count.min_value, count.max_value]).toEqual([1, 4]);
    // Guilds | GuildMessages | GuildMessageReactions
    expect(h.fake.identifies.at(-1).intents).toBe((1 << 0) | (1 << 9) | (1 << 10));
  });

  it('/imagine --n 4 --seed 7: deferred at once, progress edits, then the 2x2 grid with its buttons', async () => {
    const it = h.fake.slashCommand({ name: 'imagine', options: prompt(`${PROMPT} --n 4 --seed 7 --steps ${STEPS}`), user: requester });
    gridInteraction = it;
    grid = await h.fake.waitFor(() => hasResult(h.fake.messages.get(it.originalMessageId ?? '')), 'the grid', 60_000);

    expect(it.callbackType).toBe(5);
    expect(it.acknowledgedAt! - it.createdAt).toBeLessThan(3000);

    const edits = h.fake.callsTo('PATCH', new RegExp(`/${it.token}/messages/`));
    const queued = edits.find((c) => /Queued — position \d+|Starting…/.test(c.body?.content ?? ''));
    expect(queued, 'the reply shows the queue position').toBeDefined();
    const progress = edits.filter((c) => /Step \d+\/\d+/.test(c.body?.content ?? ''));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    // In step order, and never the last step (the grid replaces it). How far apart they are is the
    // throttle's, proven on a fake clock in test/worker/progress-reporter.test.ts: arrival times at
    // the fake measure the loaded machine, not the throttle.
    const steps = progress.map((c) => c.body.content.match(/Step (\d+)\/(\d+)/).slice(1).map(Number));
    for (let i = 1; i < steps.length; i++) expect(steps[i][0]).toBeGreaterThan(steps[i - 1][0]);
    for (const [step, total] of steps) expect(step).toBeLessThan(total);

    expect(grid.files).toHaveLength(1);
    const png = grid.files[0].data;
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([128, 128]);
    if (h.embeddedModel) {
      // The demo model gets backgrounds right ~95% of the time and shape colours ~60% (see
      // models/tiny/train/README.md): every background must match, and at least half the shapes.
      const checks = await Promise.all((await splitGrid(png, 2, 2)).map((tile) => checkImage(tile, PROMPT)));
      const details = JSON.stringify(checks.map((c) => c.details));
      expect(checks.filter((c) => c.backgroundOk), details).toHaveLength(4);
      expect(checks.filter((c) => c.backgroundOk && c.shapeColorOk).length, details).toBeGreaterThanOrEqual(2);
    }
    expect(grid.content).toContain(`**${PROMPT}** — <@${requester.id}>`);
    expect(grid.content).toContain('`seeds 7, 8, 9, 10`');
    expect(grid.content).toContain(`\`${STEPS} steps\``);
    expect(grid.content).toContain('`64x64`');

    const r = (await storedFor(grid.id)).resultId;
    expect(labels(grid)).toEqual([['U1', 'U2', 'U3', 'U4'], ['V1', 'V2', 'V3', 'V4'], ['🔄', '✖']]);
    expect(ids(grid)).toEqual([`im1:u:${r}:0`, `im1:u:${r}:1`, `im1:u:${r}:2`, `im1:u:${r}:3`, `im1:v:${r}:0`, `im1:v:${r}:1`, `im1:v:${r}:2`, `im1:v:${r}:3`, `im1:r:${r}`, `im1:d:${r}`]);
    expect(ids(grid).every((id) => id.length <= 100)).toBe(true);
  });

  /** Press a button and wait for the job it starts to post its image into the press's follow-up. */
  async function press(messageId: string, customId: string, user = requester): Promise<{ press: FakeInteraction; result: FakeMessage }> {
    const press = h.fake.pressButton({ messageId, customId, user });
    const result = await h.fake.waitFor(() => followUps(press).map(hasResult).find(Boolean), `the result of ${customId}`, 60_000);
    expect(press.callbackType).toBe(6);
    expect(press.acknowledgedAt! - press.createdAt).toBeLessThan(3000);
    return { press, result };
  }

  it('V2 posts a grid of strong variations of image 2', async () => {
    const r = await storedFor(grid.id);
    const { result } = await press(grid.id, `im1:v:${r.resultId}:1`);
    expect(result.content).toContain(`**${PROMPT}** — Strong variation of image 2 for <@${requester.id}>`);
    const meta = await sharp(result.files[0].data).metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
    const stored = await storedFor(result.id);
    expect(stored.kind).toBe('variation');
    expect(stored.parentResultId).toBe(r.resultId);
    expect(ids(result)).toContain(`im1:v:${stored.resultId}:3`);
  });

  it('🔄 posts the same prompt with a new seed', async () => {
    const r = await storedFor(grid.id);
    const { result } = await press(grid.id, `im1:r:${r.resultId}`);
    const stored = await storedFor(result.id);
    expect(stored.kind).toBe('txt2img');
    expect(stored.params.prompt).toBe(PROMPT);
    expect(stored.params.seed).not.toBe(7);
    expect(result.content).toContain(`\`seeds ${stored.params.seed}, `);
  });

  it('U1 posts image 1 upscaled to twice the tile size', async () => {
    const r = await storedFor(grid.id);
    const { result } = await press(grid.id, `im1:u:${r.resultId}:0`);
    const meta = await sharp(result.files[0].data).metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
    const stored = await storedFor(result.id);
    expect(stored.kind).toBe('upscale');
    expect(stored.images).toHaveLength(1);
    expect(result.content).toContain('Upscaled ×2 (image 1)');
    // An upscaled image cannot be upscaled again: no U buttons, and the Vary pair instead of V1.
    expect(labels(result)).toEqual([['🔄', 'Vary (Subtle)', 'Vary (Strong)', '✖'], ['Remix'], ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'], ['⬅', '➡', '⬆', '⬇']]);
  });

  it('🔁 on the grid posts variations, as a reply to it, for a message the bot never cached', async () => {
    // Button presses put the grid in the client's cache; empty it, as after a restart, so the event is a partial.
    const channel = h.bot.client.channels.cache.get(h.fake.channelId);
    if (channel?.isTextBased()) channel.messages.cache.clear();
    expect(channel?.isTextBased() && channel.messages.cache.has(grid.id)).toBe(false);
    const before = h.fake.channelMessages().length;
    h.fake.react({ messageId: grid.id, emoji: '🔁', user: requester });
    const reply = await h.fake.waitFor(() => h.fake.channelMessages().find((m) => m.referencedMessageId === grid.id && hasResult(m)), 'the variations', 60_000);
    expect(h.fake.channelMessages().length).toBe(before + 1);
    expect(reply.content).toContain(`Strong variation of image 1 for <@${requester.id}>`);
    const stored = await storedFor(reply.id);
    expect(stored.kind).toBe('variation');
    // Posted by the bot through the channel route (there is no interaction token for a reaction).
    expect(h.fake.callsTo('POST', new RegExp(`^/channels/${h.fake.channelId}/messages$`)).some((c) => c.body?.message_reference?.message_id === grid.id)).toBe(true);
  });

  it('✖ from someone else is refused ephemerally; from the requester it deletes the result', async () => {
    const r = await storedFor(grid.id);
    const other = h.fake.pressButton({ messageId: grid.id, customId: `im1:d:${r.resultId}`, user: stranger });
    const refusal = await h.fake.waitFor(() => followUps(other).find((m) => m.flags & 64), 'the refusal');
    expect(refusal.content).toBe('Only the person who asked for this image can remove it.');
    expect(h.fake.messages.get(grid.id)!.deleted).toBe(false);
    expect(await h.results.get(r.resultId)).not.toBeNull();

    const own = h.fake.pressButton({ messageId: grid.id, customId: `im1:d:${r.resultId}`, user: requester });
    await h.fake.waitFor(() => h.fake.messages.get(grid.id)!.deleted, 'the deletion');
    expect(own.callbackType).toBe(6);
    expect(h.fake.callsTo('DELETE', new RegExp(`^/channels/${h.fake.channelId}/messages/${grid.id}$`)).map((c) => c.status)).toEqual([204]);
    expect(await h.results.get(r.resultId)).toBeNull();
  });

  it('bad input gets an ephemeral message and nothing is enqueued', async () => {
    const jobsBefore = await jobCount();
    const unknown = h.fake.slashCommand({ name: 'imagine', options: prompt(`${PROMPT} --sed 5`), user: requester });
    await h.fake.waitFor(() => unknown.acknowledgedAt, 'the answer');
    const tooMany = h.fake.slashCommand({ name: 'imagine', options: [...prompt(PROMPT), { name: 'steps', type: 4, value: 999 }], user: requester });
    await h.fake.waitFor(() => tooMany.acknowledgedAt, 'the answer');
    for (const it of [unknown, tooMany]) {
      expect(it.callbackType).toBe(4);
      const msg = h.fake.messages.get(it.originalMessageId!)!;
      expect(msg.flags & 64).toBe(64);
    }
    expect(h.fake.messages.get(unknown.originalMessageId!)!.content).toMatch(/--sed.*--seed/);
    expect(h.fake.messages.get(tooMany.originalMessageId!)!.content).toMatch(/1 to 12/);
    expect(await jobCount()).toBe(jobsBefore);
    expect(await h.queue.userJobs(requester.id)).toEqual([]);
  });

  it('a button keeps working after the bot restarts', async () => {
    const it = h.fake.slashCommand({ name: 'imagine', options: prompt(`${PROMPT} --n 2 --seed 11 --steps ${STEPS}`), user: requester });
    const result = await h.fake.waitFor(() => hasResult(h.fake.messages.get(it.originalMessageId ?? '')), 'the result', 60_000);
    await h.stopBot();
    await h.startBot();
    expect(h.fake.connectedClients).toBe(1);
    const r = await storedFor(result.id);
    const { result: upscaled } = await press(result.id, `im1:u:${r.resultId}:1`);
    expect((await storedFor(upscaled.id)).kind).toBe('upscale');

    // Past its expiry (RESULT_TTL_DAYS) the stored result is gone: the button says so, to the presser only.
    await h.results.delete(r.resultId);
    const late = h.fake.pressButton({ messageId: result.id, customId: `im1:v:${r.resultId}:0`, user: requester });
    const expired = await h.fake.waitFor(() => followUps(late).find((m) => m.flags & 64), 'the expiry notice');
    expect(expired.content).toBe('This result has expired; run /imagine again to make new images.');
    expect(followUps(late)).toHaveLength(1);
  });

  it('delivers through the channel route when the interaction token expired before delivery', async () => {
    let interactionId = '';
    const firstCall = h.fake.calls.length;
    // Expire the token the moment the bot has shown the queue position: every worker delivery comes after.
    h.fake.onCall = (call) => {
      const it = h.fake.interactions.get(interactionId);
      if (it && call.method === 'PATCH' && call.path.includes(it.token) && /Queued|Starting/.test(call.body?.content ?? '')) h.fake.expireInteraction(interactionId);
    };
    const it = h.fake.slashCommand({ name: 'imagine', options: prompt(`${PROMPT} --n 1 --seed 21 --steps ${STEPS}`), user: requester });
    interactionId = it.id;
    const original = await h.fake.waitFor(() => h.fake.messages.get(it.originalMessageId ?? ''), 'the reply');
    const result = await h.fake.waitFor(() => hasResult(h.fake.messages.get(original.id)) ?? h.fake.channelMessages().find((m) => m.nonce !== undefined && hasResult(m) && m.content.includes('seed 21')), 'the result', 60_000);
    h.fake.onCall = null;
    expect(it.expired).toBe(true);
    const webhookAfter = h.fake.callsTo('PATCH', new RegExp(`/${it.token}/`)).filter((c) => c.status !== 200);
    expect(webhookAfter.every((c) => c.status === 401)).toBe(true);
    const channelCalls = h.fake.calls.slice(firstCall).filter((c) => c.path.startsWith(`/channels/${h.fake.channelId}/messages`) && c.files.some((f) => f.name.startsWith('imagine-')));
    expect(channelCalls.length).toBe(1);
    expect(channelCalls[0].status).toBe(200);
    expect(result.content).toContain('`seed 21`');
  });

  it('waits out a 429 on the result upload and then posts one message', async () => {
    h.fake.injectRateLimit(/\/messages\/[^/]+$/, 1, 'PATCH', (call) => call.files.some((f) => f.name.startsWith('imagine-')));
    const it = h.fake.slashCommand({ name: 'imagine', options: prompt(`${PROMPT} --n 1 --seed 31 --steps ${STEPS}`), user: requester });
    const result = await h.fake.waitFor(() => hasResult(h.fake.messages.get(it.originalMessageId ?? '')), 'the result', 60_000);
    const uploads = h.fake.calls.filter((c) => c.files.some((f) => f.name.startsWith('imagine-')) && c.path.includes(it.token));
    expect(uploads.map((c) => c.status)).toEqual([429, 200]);
    expect(uploads[1].at - uploads[0].at).toBeGreaterThanOrEqual(1000);
    expect(result.files).toHaveLength(1);
    expect(h.fake.channelMessages().filter((m) => m.content.includes('`seed 31`'))).toHaveLength(1);
  });

  it('re-encodes an image over the attachment limit the interaction reported', async () => {
    const limit = 2500;
    h.fake.attachmentSizeLimit = limit;
    try {
      const it = h.fake.slashCommand({ name: 'imagine', options: prompt(`${PROMPT} --n 4 --seed 41 --steps ${STEPS}`), user: requester, attachmentSizeLimit: limit });
      const result = await h.fake.waitFor(() => hasResult(h.fake.messages.get(it.originalMessageId ?? '')), 'the result', 60_000);
      const file = result.files[0];
      expect(file.data.length).toBeLessThanOrEqual(limit);
      expect(['webp', 'jpeg']).toContain((await sharp(file.data).metadata()).format);
      expect(result.content).toMatch(/over this server's upload limit, so it was re-encoded as/);
    } finally {
      h.fake.attachmentSizeLimit = 10 * 1024 * 1024;
    }
  });

  it('uses an attached image as the start image, and refuses a file that is not one', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 220, g: 20, b: 20 } } }).png().toBuffer();
    const upload = h.fake.addUpload('start.png', png, 'image/png', { width: 64, height: 64 });
    const it = h.fake.slashCommand({
      name: 'imagine',
      options: [...prompt(`${PROMPT} --n 1 --seed 51 --steps ${STEPS}`), { name: 'image', type: 11, value: upload.id }, { name: 'strength', type: 10, value: 0.5 }],
      attachments: [upload],
      user: requester,
    });
    const result = await h.fake.waitFor(() => hasResult(h.fake.messages.get(it.originalMessageId ?? '')), 'the result', 60_000);
    expect(result.files).toHaveLength(1);

    const text = h.fake.addUpload('notes.txt', Buffer.from('hello'), 'text/plain');
    const jobsBefore = await jobCount();
    const bad = h.fake.slashCommand({ name: 'imagine', options: [...prompt(PROMPT), { name: 'image', type: 11, value: text.id }], attachments: [text], user: requester });
    await h.fake.waitFor(() => bad.acknowledgedAt, 'the answer');
    const msg = h.fake.messages.get(bad.originalMessageId!)!;
    expect(msg.flags & 64).toBe(64);
    expect(msg.content).toBe('The attached file (notes.txt) is not a PNG, JPEG or WebP image.');
    expect(await jobCount()).toBe(jobsBefore);
  });

  it('/queue and /cancel answer only the user', async () => {
    const q = h.fake.slashCommand({ name: 'queue', user: requester });
    const queueAnswer = await h.fake.waitFor(() => h.fake.messages.get(q.originalMessageId ?? '')?.content, 'the /queue answer');
    expect(h.fake.messages.get(q.originalMessageId!)!.flags & 64).toBe(64);
    expect(queueAnswer).toMatch(/^You have no queued or running jobs\.\nQueue: \d+ waiting, \d+ running\.$/);
    const c = h.fake.slashCommand({ name: 'cancel', user: requester });
    const cancelAnswer = await h.fake.waitFor(() => h.fake.messages.get(c.originalMessageId ?? '')?.content, 'the /cancel answer');
    expect(cancelAnswer).toBe('You have no queued or running jobs.');
  });

  it('✖ on a queued job cancels it for the requester only; /queue shows its position meanwhile', async () => {
    // A paused worker keeps the job waiting, so the story does not race the pipeline.
    process.kill(h.worker!.pid!, 'SIGSTOP');
    try {
      const it = h.fake.slashCommand({ name: 'imagine', options: prompt(`${PROMPT} --n 1 --seed 61 --steps ${STEPS}`), user: requester });
      const status = await h.fake.waitFor(() => {
        const m = h.fake.messages.get(it.originalMessageId ?? '');
        return m && /Queued — position 1/.test(m.content) ? m : undefined;
      }, 'the queued reply');
      const [job] = await h.queue.userJobs(requester.id);
      expect(ids(status)).toEqual([`im1:c:${job.jobId}`]);
      // The worker process has measured the jobs before this one: the queued reply says about when it starts.
      expect(status.content).toMatch(/Queued — position 1 · starts in about (\d+ min )?\d+ s/);

      const q = h.fake.slashCommand({ name: 'queue', user: requester });
      const queueAnswer = await h.fake.waitFor(() => h.fake.messages.get(q.originalMessageId ?? '')?.content, 'the /queue answer');
      expect(queueAnswer).toMatch(new RegExp(`• ${PROMPT} — txt2img 64x64, seed 61 · position 1, starts in about (\\d+ min )?\\d+ s · job ${job.jobId.slice(0, 8)}`));
      expect(queueAnswer).toContain('Queue: 1 waiting, 0 running.');

      const other = h.fake.pressButton({ messageId: status.id, customId: `im1:c:${job.jobId}`, user: stranger });
      const refusal = await h.fake.waitFor(() => followUps(other).find((m) => m.flags & 64), 'the refusal');
      expect(refusal.content).toBe('That job is not yours, or it has already finished.');
      expect(await h.queue.position(job.jobId)).toBe(1);

      h.fake.pressButton({ messageId: status.id, customId: `im1:c:${job.jobId}`, user: requester });
      await h.fake.waitFor(() => /\nCancelled\.$/.test(h.fake.messages.get(status.id)!.content), 'the cancelled message');
      expect(h.fake.messages.get(status.id)!.components).toEqual([]);
      expect(await h.queue.userJobs(requester.id)).toEqual([]);
    } finally {
      process.kill(h.worker!.pid!, 'SIGCONT');
    }
  });

  it('resumes the gateway session after the connection drops, and keeps answering', async () => {
    h.fake.dropGatewayConnections();
    await h.fake.waitFor(() => h.fake.resumes > 0 && h.fake.connectedClients === 1, 'the resumed session', 20_000);
    const it = h.fake.slashCommand({ name: 'help', user: requester });
    const answer = await h.fake.waitFor(() => h.fake.messages.get(it.originalMessageId ?? ''), 'the /help answer');
    expect(answer.flags & 64).toBe(64);
    expect(answer.content).toContain('/imagine');
    // Help outgrows one message: the rest follows, also ephemeral.
    const all = await h.fake.waitFor(() => {
      const parts = [answer, ...followUps(it)];
      return parts.some((m) => m.content.includes('Reactions on a result:')) ? parts : undefined;
    }, 'the rest of /help');
    expect(all.every((m) => m.flags & 64 && m.content.length <= 2000)).toBe(true);
    expect(all.at(-1)!.content).toContain('Reactions on a result: 🔁 strong variations of image 1 · 1️⃣ strong variations of image 1 · 2️⃣ strong variations of image 2');
  });

  it('autocompletes models from the catalog and aspect ratios', async () => {
    const model = h.fake.slashCommand({ name: 'imagine', autocomplete: true, options: [...prompt('x'), { name: 'model', type: 3, value: 'ti', focused: true }], user: requester });
    await h.fake.waitFor(() => model.choices, 'the model choices');
    expect(model.callbackType).toBe(8);
    expect(model.choices).toEqual(h.models.names().filter((n) => n.includes('ti')).map((n) => ({ name: n, value: n })));
    expect(model.choices!.length).toBeGreaterThan(0);
    const aspect = h.fake.slashCommand({ name: 'imagine', autocomplete: true, options: [...prompt('x'), { name: 'aspect', type: 3, value: '16', focused: true }], user: requester });
    await h.fake.waitFor(() => aspect.choices, 'the aspect choices');
    expect(aspect.choices).toEqual([{ name: '16:9', value: '16:9' }]);
  });
});
