/**
 * Discord end to end with a safety checker: the embedded model, plus a `safety_checker/` that
 * flags bright pictures (the mean of CLIP's normalised input above 0), so what the model draws
 * decides the verdict. The real discord.js bot and a real worker process, on the fake Discord.
 */
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasResult, startDiscordHarness, type DiscordHarness } from './support/discord-harness.ts';
import type { FakeUser } from './support/fake-discord.ts';
import { checkImage, TINY_MODEL_DIR } from './support/tiny-model-check.ts';
import { SD15_PREPROCESSOR_CONFIG, writeTinySafetyChecker } from './support/tiny-sd-models.ts';

let h: DiscordHarness;
let user: FakeUser;
let modelRoot: string;

/** The embedded model's files (linked, not copied) with a safety checker added. */
function embeddedModelWithChecker(): string {
  modelRoot = path.join(os.tmpdir(), `nsfw-e2e-${process.pid}-${Date.now()}`);
  const dir = path.join(modelRoot, 'tiny');
  mkdirSync(dir, { recursive: true });
  for (const entry of readdirSync(TINY_MODEL_DIR)) if (entry !== 'train') symlinkSync(path.join(TINY_MODEL_DIR, entry), path.join(dir, entry));
  writeTinySafetyChecker(path.join(dir, 'safety_checker'), { threshold: 0 });
  mkdirSync(path.join(dir, 'feature_extractor'));
  writeFileSync(path.join(dir, 'feature_extractor', 'preprocessor_config.json'), JSON.stringify(SD15_PREPROCESSOR_CONFIG));
  return dir;
}

beforeAll(async () => {
  h = await startDiscordHarness({ env: { MODEL_DIR: embeddedModelWithChecker(), LIMIT_USER_PER_MINUTE: '1000', NSFW_MODE: 'spoiler' } });
  user = h.fake.user('3000000000000000011', 'carol');
}, 120_000);

afterAll(async () => {
  await h?.close();
  if (modelRoot) rmSync(modelRoot, { recursive: true, force: true });
});

async function imagine(text: string) {
  const it = h.fake.slashCommand({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: `${text} --seed 3 --steps 10` }], user });
  return h.fake.waitFor(() => hasResult(h.fake.messages.get(it.originalMessageId ?? '')), `the result of ${text}`, 60_000);
}

describe('Discord end to end, safety checker', () => {
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
