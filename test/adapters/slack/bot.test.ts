/**
 * The Slack bot's queue-side behaviour with no worker running (jobs stay queued), through the
 * real Bolt App: ✖ cancels a queued job, Retry re-runs a failed one, refusals undo the
 * messages made for the job; and the same listeners over Socket Mode.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackDeliverer } from '../../../adapters/slack/deliver.ts';
import { renderResult } from '../../../adapters/slack/render.ts';
import { JOB_VERSION, parseJobResult, type JobResult } from '../../../src/jobs.ts';
import { createLogger } from '../../../src/logger.ts';
import { closeRedis, createRedis } from '../../../src/redis.ts';
import type { FakeSlackMessage } from '../../../kit/fake-slack.ts';
import { redisServerAvailable } from '../../../kit/redis-server.ts';
import { actionLabels, ALICE, BOB, CHANNEL, SIGNING_SECRET, startSlackHarness, type SlackHarness } from '../../support/slack-harness.ts';
import { FORM, interactionBody, postSigned } from '../../../kit/slack-signing.ts';

const available = redisServerAvailable();
if (!available) console.warn('SKIPPED: Slack bot tests need redis-server or REDIS_URL');

const silent = createLogger({ level: 'silent' });

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The /imagine thread for a prompt: its parent and its status message once it shows ✖. */
async function queuedThread(h: SlackHarness, prompt: string): Promise<{ parent: FakeSlackMessage; status: FakeSlackMessage }> {
  return h.fake.waitFor(`the queued thread for ${prompt}`, () => {
    const parent = h.fake.messages.find((m) => !m.thread_ts && !m.deleted && m.text.endsWith(`asked for: ${prompt}`));
    const status = parent && h.fake.threadReplies(CHANNEL, parent.ts).find((m) => actionLabels(m).some((r) => r.includes('✖')));
    return parent && status ? { parent, status } : null;
  });
}

/** A result of `owner`'s as a worker would have left it: stored, and shown in a thread message with its buttons. */
async function postedResult(h: SlackHarness, resultId: string, owner: string): Promise<{ result: JobResult; message: FakeSlackMessage }> {
  const parent = h.fake.postBotMessage(CHANNEL, 'asked for: an orange circle');
  const message = h.fake.postBotMessage(CHANNEL, 'Images', parent.ts);
  const origin = { platform: 'slack' as const, workspaceId: h.fake.teamId, channelId: CHANNEL, threadId: parent.ts, userId: owner };
  const params = { prompt: 'an orange circle', negativePrompt: '', seed: 5, steps: 4, guidance: 7, width: 64, height: 64, n: 2, sampler: 'euler' as const, model: 'tiny' };
  const result = parseJobResult({
    v: JOB_VERSION,
    resultId,
    jobId: `j-${resultId}`,
    kind: 'txt2img',
    params,
    origin,
    images: [0, 1].map((i) => ({ artifact: { key: `r/${i}.png`, bytes: 1, contentType: 'image/png' }, seed: 5 + i, width: 64, height: 64 })),
    timings: {},
    model: 'tiny',
    sampler: 'euler',
    provider: 'cpu',
    createdAt: Date.now(),
    messageId: message.ts,
  });
  await h.results.save(result, 3600);
  message.blocks = renderResult({ v: JOB_VERSION, kind: 'txt2img', origin, params, createdAt: Date.now() }, result).blocks as any[];
  return { result, message };
}

/** Press a button on `message` whose action_id is `actionId`, whatever the message carries (a forged or copied id). */
async function pressForged(h: SlackHarness, message: FakeSlackMessage, actionId: string, user: string) {
  const { payload } = h.pressPayload(message, actionLabels(message).flat()[0], { user });
  const [action] = payload.actions as Array<Record<string, unknown>>;
  payload.actions = [{ ...action, action_id: actionId, value: actionId }];
  return postSigned(h.eventsUrl, SIGNING_SECRET, interactionBody(payload), FORM);
}

describe.skipIf(!available)('Slack bot without a worker (HTTP mode)', () => {
  let h: SlackHarness;

  beforeAll(async () => {
    h = await startSlackHarness({ worker: false, env: { LIMIT_USER_QUEUED: '2' } });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('offers Retry on a failed job and runs the same request again in its thread', async () => {
    const prompt = 'a blue triangle on a white background';
    const { responseUrl } = await h.slashCommand(`${prompt} --seed 11 --n 1`);
    const { parent, status } = await queuedThread(h, prompt);
    const [job] = await until('the queued job', async () => {
      const jobs = await h.queue.userJobs(ALICE);
      return jobs.length === 1 ? jobs : null;
    });

    // A worker that fails the job for good, and the failure notice the real worker would deliver.
    const connection = createRedis(h.redis.url, { role: 'worker', logger: silent });
    const failing = new Worker(h.config.QUEUE_NAME, async () => {
      throw new UnrecoverableError('the model ran out of memory');
    }, { connection, prefix: h.config.QUEUE_PREFIX });
    failing.on('error', () => undefined);
    await until('the job to fail', async () => (await h.queue.queue.getJob(job.jobId))?.failedReason);
    await failing.close();
    await closeRedis(connection);
    const deliverer = createSlackDeliverer(h.config, h.kv, { logger: silent });
    await deliverer.failure({ jobId: job.jobId, origin: job.payload.origin, payload: job.payload, secret: { platform: 'slack', responseUrl } }, { message: 'The model ran out of memory.', retry: true });
    expect(actionLabels(h.fake.message(CHANNEL, status.ts))).toEqual([['Retry']]);

    const { res } = await h.press(h.fake.message(CHANNEL, status.ts)!, 'Retry');
    expect(res.status).toBe(200);
    const [again] = await until('the retried job', async () => {
      const jobs = await h.queue.userJobs(ALICE);
      return jobs.length === 1 && jobs[0].jobId !== job.jobId ? jobs : null;
    });
    expect(again.payload.params).toEqual(job.payload.params);
    expect(again.payload.origin).toMatchObject({ channelId: CHANNEL, threadId: parent.ts, userId: ALICE });
    const statuses = h.fake.threadReplies(CHANNEL, parent.ts);
    expect(statuses).toHaveLength(2);
    expect(again.payload.origin.messageId).toBe(statuses[1].ts);
    // Cancel it again so the next test starts with an empty queue.
    await h.queue.cancel(again.jobId, ALICE);
  });

  it('cancels a queued job with ✖ on its status message; someone else cannot', async () => {
    const prompt = 'a yellow circle on a black background';
    await h.slashCommand(prompt);
    const { status } = await queuedThread(h, prompt);
    expect(JSON.stringify(status.blocks)).toContain('⏳ Queued — position 1');
    const [job] = await h.queue.userJobs(ALICE);

    await h.press(status, '✖', { user: BOB });
    const refusal = await h.fake.waitFor('the refusal', () => h.fake.ephemerals.find((e) => e.user === BOB && e.text.includes('not yours')));
    expect(refusal.text).toBe('That job is not yours, or it has already finished.');
    expect(await h.queue.queue.getJob(job.jobId)).toBeTruthy();

    await h.press(status, '✖');
    await h.fake.waitFor('the status marked cancelled', () => h.fake.message(CHANNEL, status.ts)!.text.startsWith('Cancelled'));
    expect(actionLabels(h.fake.message(CHANNEL, status.ts))).toEqual([]);
    expect(await h.queue.queue.getJob(job.jobId)).toBeUndefined();
    expect(await h.queue.userJobs(ALICE)).toEqual([]);
    expect(h.fake.ephemerals.filter((e) => e.user === ALICE).at(-1)!.text).toBe('Cancelling your job.');
  });

  it('answers /imagine queue and /imagine cancel through the response_url', async () => {
    const prompt = 'a black triangle on a white background';
    await h.slashCommand(prompt);
    const { status } = await queuedThread(h, prompt);
    const queue = await h.slashCommand('queue');
    expect(queue.res.json()).toEqual({ response_type: 'ephemeral', text: '⏳ Looking at the queue…' });
    const listed = await h.fake.waitFor('the queue answer', () => h.fake.responseUrlPosts(queue.responseUrl)[0]);
    expect(listed.body).toMatchObject({ response_type: 'ephemeral', replace_original: true });
    const [job] = (await h.queue.userJobs(ALICE)).filter((j) => j.payload.params.prompt === prompt);
    expect(listed.body.text).toBe(`Your jobs (1):\n• ${prompt} — txt2img 64x64 ×4, seed ${job.payload.params.seed} · position 1 · job ${job.jobId.slice(0, 8)}\nQueue: 1 waiting, 0 running.`);

    const cancelled = await h.slashCommand('cancel');
    const answer = await h.fake.waitFor('the cancel answer', () => h.fake.responseUrlPosts(cancelled.responseUrl)[0]);
    expect(answer.body.text).toBe('Cancelling your job.');
    expect(await h.queue.userJobs(ALICE)).toEqual([]);
    expect(h.fake.message(CHANNEL, status.ts)!.text).toMatch(/^Cancelled/);
    const none = await h.slashCommand('cancel');
    expect((await h.fake.waitFor('the second cancel answer', () => h.fake.responseUrlPosts(none.responseUrl)[0])).body.text).toBe('You have no queued or running jobs.');
  });

  it('removes the thread it opened and says why when the queue refuses the job', async () => {
    await h.slashCommand('first of two');
    await h.slashCommand('second of two');
    await queuedThread(h, 'first of two');
    await queuedThread(h, 'second of two');
    const postsBefore = h.fake.messages.length;
    const { responseUrl } = await h.slashCommand('one too many');
    const answer = await h.fake.waitFor('the refusal', () => h.fake.responseUrlPosts(responseUrl)[0]);
    expect(answer.body).toMatchObject({ response_type: 'ephemeral', replace_original: true });
    expect(answer.body.text).toMatch(/queued|waiting|at a time/i);
    const made = h.fake.messages.slice(postsBefore);
    expect(made).toHaveLength(2);
    expect(made.every((m) => m.deleted)).toBe(true);
    expect(await h.queue.userJobs(ALICE)).toHaveLength(2);
    for (const j of await h.queue.userJobs(ALICE)) await h.queue.cancel(j.jobId, ALICE);
  });

  it('refuses ✖ and V1 of your own result, or ✖ of your own job, pressed on someone else\'s message', async () => {
    const WRONG_MESSAGE = 'This button does not belong to this message, so nothing was done.';
    const { message: victim, result: victimResult } = await postedResult(h, 'r-victim-1', ALICE);
    const { message: own, result: ownResult } = await postedResult(h, 'r-forger-1', BOB);
    await h.slashCommand('a forger\'s queued job', { user: BOB });
    const [job] = await until('the forger\'s job', async () => (await h.queue.userJobs(BOB)).length > 0 && (await h.queue.userJobs(BOB)));
    const refusalsBefore = h.fake.ephemerals.length;

    for (const actionId of [`im1:d:${ownResult.resultId}`, `im1:v:${ownResult.resultId}:0`, `im1:c:${job.jobId}`]) {
      expect((await pressForged(h, victim, actionId, BOB)).status).toBe(200);
    }
    const refusals = await h.fake.waitFor('three refusals', () => {
      const found = h.fake.ephemerals.slice(refusalsBefore).filter((e) => e.user === BOB);
      return found.length >= 3 ? found : null;
    });
    expect(refusals.map((e) => e.text)).toEqual([WRONG_MESSAGE, WRONG_MESSAGE, WRONG_MESSAGE]);
    expect(victim.deleted).toBe(false);
    expect(own.deleted).toBe(false);
    expect(await h.results.get(victimResult.resultId)).not.toBeNull();
    expect(await h.results.get(ownResult.resultId)).not.toBeNull();
    expect((await h.queue.userJobs(BOB)).map((j) => j.jobId)).toEqual([job.jobId]);

    // On their own messages the same buttons still work.
    await h.press(own, '✖', { user: BOB });
    await h.fake.waitFor('the result removed', () => own.deleted);
    await h.queue.cancel(job.jobId, BOB);
  });

  it('answers 401 to a correctly signed request dated more than five minutes ahead, and enqueues nothing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const before = await h.jobCount();
    const postsBefore = h.fake.callsTo('chat.postMessage').length;
    const future = await h.slashCommand('a request from the future', { timestampS: now + 5 * 60 + 30 });
    const farFuture = await h.slashCommand('a request from the far future', { timestampS: now + 86_400 });
    expect([future.res.status, farFuture.res.status]).toEqual([401, 401]);
    // Within the window either way it is answered as usual.
    const early = await h.slashCommand('help', { timestampS: now + 4 * 60 });
    expect(early.res.status).toBe(200);
    expect(early.res.json().response_type).toBe('ephemeral');
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.jobCount()).toBe(before);
    expect(h.fake.callsTo('chat.postMessage')).toHaveLength(postsBefore);
    expect([future, farFuture].every((f) => h.fake.responseUrlPosts(f.responseUrl).length === 0)).toBe(true);
  });

  it('escapes what the user typed wherever it is quoted back, and keeps the bot\'s own mentions', async () => {
    // Slack sends what was typed with &, < and > as entities; the bot decodes them, so it must escape them going out.
    const steps = await h.slashCommand('a cat --steps &lt;script&gt;');
    expect(steps.res.json().text).toContain('not “&lt;script&gt;”');
    const model = await h.slashCommand('a cat --model &lt;b&gt;&amp;');
    expect(model.res.json().text).toMatch(/^Unknown model “&lt;b&gt;&amp;”\./);
    const help = (await h.slashCommand('help')).res.json().text as string;
    expect(help).toContain('`/imagine &lt;prompt&gt; [flags]`');
    for (const text of [steps.res.json().text, model.res.json().text, help]) expect(text).not.toMatch(/<(?!@U)|&(?!amp;|lt;|gt;)/);

    const prompt = 'a &lt;b&gt; fox &amp; &lt;!channel&gt;';
    const { responseUrl } = await h.slashCommand(prompt, { user: BOB });
    const parent = await h.fake.waitFor('the parent message', () => h.fake.messages.find((m) => !m.thread_ts && m.text.startsWith(`<@${BOB}> asked for:`) && m.text.includes('fox')));
    expect(parent.text).toBe(`<@${BOB}> asked for: a &lt;b&gt; fox &amp; &lt;!channel&gt;`);
    const queued = await h.fake.waitFor('the position', () => h.fake.responseUrlPosts(responseUrl)[0]);
    expect(queued.body.text).not.toMatch(/<|&(?!amp;|lt;|gt;)/);

    const report = await h.slashCommand('queue', { user: BOB });
    const answer = await h.fake.waitFor('the queue report', () => h.fake.responseUrlPosts(report.responseUrl).at(-1));
    expect(answer.body.text).toContain('• a &lt;b&gt; fox &amp; &lt;!channel&gt; — txt2img 64x64');
    for (const j of await h.queue.userJobs(BOB)) await h.queue.cancel(j.jobId, BOB);
  });

  it('tells the requester to invite the bot when it is not in the channel, and queues nothing', async () => {
    h.fake.notInChannel.add('C0PRIVATE');
    const before = await h.jobCount();
    const { responseUrl } = await h.slashCommand('a secret fox', { channel: 'C0PRIVATE' });
    const answer = await h.fake.waitFor('the explanation', () => h.fake.responseUrlPosts(responseUrl)[0]);
    expect(answer.body.text).toBe('I am not in this channel yet: invite me with `/invite @imagine`, then try again.');
    expect(await h.jobCount()).toBe(before);
  });
});

describe.skipIf(!available)('Slack bot over Socket Mode (same listeners)', () => {
  let h: SlackHarness;

  beforeAll(async () => {
    h = await startSlackHarness({ worker: false, socketMode: true });
    await h.fake.waitFor('the Socket Mode connection', () => h.fake.socketConnected);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('acknowledges /imagine over the socket, opens the thread and enqueues', async () => {
    expect(h.bot.mode).toBe('socket');
    expect(h.fake.callsTo('apps.connections.open')[0].token).toBe(h.env.SLACK_APP_TOKEN);
    const { fields, responseUrl } = h.slashPayload('a purple square on a green background --seed 3');
    const ack = await h.fake.socketSend('slash_commands', fields);
    expect(ack).toMatchObject({ response_type: 'ephemeral' });
    expect(ack.text).toMatch(/^⏳ Queuing: .*seed 3/);
    const { parent, status } = await queuedThread(h, 'a purple square on a green background');
    const answer = await h.fake.waitFor('the position', () => h.fake.responseUrlPosts(responseUrl)[0]);
    expect(answer.body.text).toMatch(/^⏳ Queued — position 1 · /);
    const [job] = await h.queue.userJobs(ALICE);
    expect(job.payload.origin).toMatchObject({ threadId: parent.ts, messageId: status.ts });

    const bad = await h.fake.socketSend('slash_commands', h.slashPayload('a cat --steps 0').fields);
    expect(bad.response_type).toBe('ephemeral');
    expect(bad.text).toMatch(/steps/i);
  });

  it('handles button presses and reactions on a stored result, reactions once per event', async () => {
    const { message: resultMsg } = await postedResult(h, 'r-socket-1', BOB);

    const press = h.pressPayload(resultMsg, 'V2', { user: BOB });
    expect(await h.fake.socketSend('interactive', press.payload)).toEqual({});
    const variation = await until('the V2 job', async () => (await h.queue.userJobs(BOB)).find((j) => j.payload.kind === 'variation'));
    expect(variation.payload).toMatchObject({ kind: 'variation', source: { resultId: 'r-socket-1', index: 1 }, parentResultId: 'r-socket-1' });

    const { body } = h.reactionPayload(resultMsg, 'arrows_counterclockwise', { user: BOB });
    await h.fake.socketSend('events_api', body);
    await h.fake.socketSend('events_api', body, { retryAttempt: 1 });
    const reseeded = await until('the reseed job', async () => (await h.queue.userJobs(BOB)).find((j) => j.payload.kind === 'txt2img'));
    expect(reseeded.payload).toMatchObject({ parentResultId: 'r-socket-1' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await h.queue.userJobs(BOB)).filter((j) => j.payload.kind === 'txt2img')).toHaveLength(1);
  });

  it('closes its Socket Mode connection on stop', async () => {
    await h.bot.stop();
    await h.fake.waitFor('the socket to close', () => !h.fake.socketConnected, 5000);
  });
});
