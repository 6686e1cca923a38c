/**
 * Discord end to end with a safety checker (support/checked-model.ts: the embedded model and a
 * checker that flags bright pictures, so what the model draws decides the verdict). The real
 * discord.js bot and a real worker process, on the fake Discord.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedModelWithChecker } from '../support/checked-model.ts';
import { hasResult, startDiscordHarness, type DiscordHarness } from '../support/discord-harness.ts';
import type { FakeUser } from '../support/fake-discord.ts';
import { redisServerAvailable } from '../../kit/redis-server.ts';
import { checkImage } from '../support/tiny-model-check.ts';

const available = redisServerAvailable();
if (!available) console.warn('SKIPPED: Discord safety-checker end-to-end tests need redis-server or REDIS_URL');

let h: DiscordHarness;
let user: FakeUser;
let model: ReturnType<typeof embeddedModelWithChecker> | undefined;

beforeAll(async () => {
  if (!available) return;
  model = embeddedModelWithChecker();
  h = await startDiscordHarness({ env: { MODEL_DIR: model.dir, LIMIT_USER_PER_MINUTE: '1000', NSFW_MODE: 'spoiler' } });
  user = h.fake.user('3000000000000000011', 'carol');
}, 120_000);

afterAll(async () => {
  await h?.close();
  model?.remove();
});

async function imagine(text: string) {
  const it = h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: `${text} --seed 3 --steps 10` }], user });
  return h.fake.waitFor(() => hasResult(h.fake.messages.get(it.originalMessageId ?? '')), `the result of ${text}`, 60_000);
}

describe.skipIf(!available)('Discord end to end, safety checker', () => {
  it('a flagged picture is posted behind a spoiler outside NSFW channels; an unflagged one as it is', async () => {
    const bright = await imagine('a red circle on a white background');
    expect((await checkImage(bright.files[0].data, 'a red circle on a white background')).backgroundOk).toBe(true);
    expect(bright.files.map((f) => f.name)).toEqual([expect.stringMatching(/^SPOILER_imagine-.+\.png$/)]);
    expect(bright.content).toContain('hidden behind a spoiler');

    const dark = await imagine('a red circle on a black background');
    expect((await checkImage(dark.files[0].data, 'a red circle on a black background')).backgroundOk).toBe(true);
    expect(dark.files.map((f) => f.name)).toEqual([expect.stringMatching(/^imagine-.+\.png$/)]);
    expect(dark.content).not.toContain('spoiler');
  });

  it('in a channel marked NSFW the flagged picture is shown as it is', async () => {
    h.fake.channelNsfw = true;
    try {
      const bright = await imagine('a green square on a white background');
      expect(bright.files.map((f) => f.name)).toEqual([expect.stringMatching(/^imagine-.+\.png$/)]);
      expect(bright.content).not.toContain('spoiler');
    } finally {
      h.fake.channelNsfw = false;
    }
  });
});
