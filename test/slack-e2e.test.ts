/**
 * Slack end to end, bot and worker as separate processes: signed requests to the real Bolt
 * HTTP receiver, a real Redis, a worker child process (`worker/cli.ts`) running the model and
 * delivering through the real Slack deliverer to the loopback fake Web API.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAction } from '../src/actions.ts';
import { FakeSlackMessage } from './support/fake-slack.ts';
import { keysUnder } from './support/queue-harness.ts';
import { redisServerAvailable } from './support/redis-server.ts';
import { actionLabels, ALICE, BOB, CHANNEL, resultMessages, SIGNING_SECRET, startSlackHarness, type SlackHarness } from './support/slack-harness.ts';
import { FORM, formBody, JSON_TYPE, postSigned } from './support/slack-signing.ts';
import { checkImage, splitGrid } from './support/tiny-model-check.ts';

const available = redisServerAvailable();
if (!available) console.warn('SKIPPED: Slack end-to-end tests need redis-server or REDIS_URL');

const PROMPT = 'a red circle on a blue background';

describe.skipIf(!available)('Slack /imagine end to end (separate bot and worker processes)', () => {
  let h: SlackHarness;

  beforeAll(async () => {
    h = await startSlackHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  const parentOf = (text: string) => h.fake.messages.find((m) => !m.thread_ts && m.channel === CHANNEL && m.text.includes(text));

  async function waitForResults(threadTs: string, count: number): Promise<FakeSlackMessage[]> {
    return h.fake.waitFor(`${count} result message(s) in thread ${threadTs}`, () => {
      const found = resultMessages(h.fake, CHANNEL, threadTs);
      return found.length >= count ? found : null;
    }, 90_000);
  }

  it('answers /imagine within 3 s, opens a thread with progress, and uploads the grid with its buttons', async () => {
    const { res, responseUrl } = await h.slashCommand(`${PROMPT} --ar 3:2 --seed 7 --n 4`);
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    expect(res.json()).toMatchObject({ response_type: 'ephemeral' });
    expect(res.json().text).toMatch(/^⏳ Queuing: .*seed 7/);

    const parent = await h.fake.waitFor('the parent message', () => parentOf(PROMPT));
    expect(parent.text).toBe(`<@${ALICE}> asked for: ${PROMPT}`);
    const [result] = await waitForResults(parent.ts, 1);

    // The ephemeral answers: the queue position replaced the "Queuing" ack, then the ready note (the deliverer's last step) replaced that.
    const answers = await h.fake.waitFor('the ready note', () => {
      const posts = h.fake.responseUrlPosts(responseUrl).map((p) => p.body);
      return posts.length >= 2 ? posts : null;
    });
    expect(answers[0]).toMatchObject({ response_type: 'ephemeral', replace_original: true });
    expect(answers[0].text).toMatch(/^⏳ Queued — position 1 · |^⚙️ Starting… · /);
    expect(answers.at(-1)).toMatchObject({ text: '✅ Your images are ready in the thread.' });

    // The status message: first reply in the thread, edited from "queued" through progress to done.
    const replies = h.fake.threadReplies(CHANNEL, parent.ts);
    const status = replies[0];
    const statusEdits = h.fake.callsTo('chat.update').filter((c) => c.params.ts === status.ts).map((c) => JSON.parse(c.params.blocks));
    // The worker is idle, so the job may already be running when the bot shows its position.
    expect(JSON.stringify(statusEdits[0])).toMatch(/⏳ Queued — position 1|⚙️ Starting…/);
    expect(statusEdits.some((b) => JSON.stringify(b).includes('Step '))).toBe(true);
    expect(status.text).toMatch(/^Done/);

    // files.uploadV2 into the thread, before the message with the buttons; never files.upload.
    expect(h.fake.callsTo('files.upload')).toHaveLength(0);
    const upload = h.fake.uploads.find((u) => u.thread_ts === parent.ts)!;
    expect(upload.completed).toBe(true);
    expect(replies.map((m) => m.ts).indexOf(upload.ts!)).toBeLessThan(replies.map((m) => m.ts).indexOf(result.ts));
    const meta = await sharp(upload.bytes!).metadata();
    expect(meta.format).toBe('png');
    const tiles = await splitGrid(upload.bytes!, 2, 2);
    expect(tiles).toHaveLength(4);
    if (h.embeddedModel) {
      for (const tile of tiles) {
        const check = await checkImage(tile, PROMPT);
        expect(check.backgroundOk && check.shapeColorOk).toBe(true);
      }
    }

    expect(actionLabels(result)).toEqual([
      ['U1', 'U2', 'U3', 'U4'],
      ['V1', 'V2', 'V3', 'V4'],
      ['🔄', '✖'],
    ]);
    const stored = await h.results.getByMessage('slack', result.ts);
    expect(stored?.params).toMatchObject({ prompt: PROMPT, seed: 7, n: 4 });
    expect(decodeAction(result.blocks!.find((b) => b.type === 'actions').elements[1].action_id)).toEqual({ action: 'upscale', resultId: stored!.resultId, index: 1 });
    expect(h.fake.reactions).toContainEqual({ channel: CHANNEL, ts: result.ts, name: 'repeat', user: h.fake.botUserId });
  });
});
