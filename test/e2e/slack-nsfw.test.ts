/**
 * Slack end to end with a safety checker (support/checked-model.ts: the embedded model and a
 * checker that flags bright pictures). Slack has no spoilers, so a flagged picture is withheld:
 * no upload, a note in its place, the buttons still there. Signed requests to the real Bolt
 * receiver, a worker child process and the real Slack deliverer, on the fake Web API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedModelWithChecker } from '../support/checked-model.ts';
import { redisServerAvailable } from '../../kit/redis-server.ts';
import { actionLabels, CHANNEL, resultMessages, startSlackHarness, type SlackHarness } from '../support/slack-harness.ts';
import { checkImage } from '../support/tiny-model-check.ts';

const available = redisServerAvailable();
if (!available) console.warn('SKIPPED: Slack safety-checker end-to-end tests need redis-server or REDIS_URL');

describe.skipIf(!available)('Slack end to end, safety checker', () => {
  let h: SlackHarness;
  let model: ReturnType<typeof embeddedModelWithChecker> | undefined;

  beforeAll(async () => {
    model = embeddedModelWithChecker();
    h = await startSlackHarness({ env: { MODEL_DIR: model.dir, LIMIT_USER_PER_MINUTE: '1000' } });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    model?.remove();
  });

  async function imagine(prompt: string) {
    await h.slashCommand(`${prompt} --seed 3 --steps 10`);
    const parent = await h.fake.waitFor('the parent message', () => h.fake.messages.find((m) => !m.thread_ts && m.channel === CHANNEL && m.text.includes(prompt)));
    const [result] = await h.fake.waitFor('the result message', () => {
      const found = resultMessages(h.fake, CHANNEL, parent.ts);
      return found.length > 0 ? found : null;
    }, 90_000);
    return { parent, result, upload: h.fake.uploads.find((u) => u.thread_ts === parent.ts) };
  }

  it('a flagged picture is withheld with a note and keeps its buttons; an unflagged one is uploaded', async () => {
    const dark = await imagine('a red circle on a black background');
    expect(dark.upload?.completed).toBe(true);
    expect((await checkImage(dark.upload!.bytes!, 'a red circle on a black background')).backgroundOk).toBe(true);
    expect(JSON.stringify(dark.result.blocks)).not.toContain('safety checker');

    const bright = await imagine('a red circle on a white background');
    expect(bright.upload).toBeUndefined();
    expect(JSON.stringify(bright.result.blocks)).toContain('The safety checker flagged this image, so it is not shown here.');
    expect(actionLabels(bright.result).flat()).toEqual(expect.arrayContaining(['U1', 'V1', '🔄']));
  });
});
