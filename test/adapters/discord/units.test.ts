/** The Discord adapter's pure parts: reaction map, command definitions, autocomplete, rendering, nonces, size fitting. */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { describeFit, fitImage } from '../../../adapters/discord/fit-attachment.ts';
import { MAX_NONCE_LENGTH, nonceFor } from '../../../adapters/discord/nonce.ts';
import { describeQueue, splitMessage } from '../../../adapters/discord/queue-commands.ts';
import { DEFAULT_REACTIONS, describeDiscordReactions, parseDiscordReactions } from '../../../adapters/discord/reactions.ts';
import { MAX_CONTENT, quotePrompt, renderProgress, renderQueued, renderResult } from '../../../adapters/discord/render.ts';
import { aspectChoices, buildSlashCommands, modelChoices } from '../../../adapters/discord/slash-commands.ts';
import { ConfigError } from '../../../src/config.ts';
import { JOB_VERSION, type JobPayload } from '../../../src/jobs.ts';
import { testResult } from '../../../kit/job-fixtures.ts';

const payload = (prompt: string): JobPayload => ({
  v: JOB_VERSION,
  kind: 'txt2img',
  origin: { platform: 'discord', channelId: '10000', userId: '20000' },
  params: { prompt, negativePrompt: '', seed: 1, steps: 4, guidance: 7, width: 64, height: 64, n: 1, sampler: 'euler', model: 'tiny' },
  createdAt: 0,
});

describe('reaction map', () => {
  it('parses the default map', () => {
    const map = parseDiscordReactions(DEFAULT_REACTIONS);
    expect(map.get('🔁')).toEqual({ action: 'variation', mode: 'strong', index: 0 });
    expect(map.get('3️⃣')).toEqual({ action: 'variation', mode: 'strong', index: 2 });
    // Keycap emoji arrive with or without the variation selector.
    expect(map.get('3\u20e3')).toEqual({ action: 'variation', mode: 'strong', index: 2 });
    expect(map.get('🔍')).toEqual({ action: 'upscale', index: 0 });
    expect(map.get('❌')).toEqual({ action: 'delete' });
    expect(map.get('👍')).toBeUndefined();
    expect(map.get(null)).toBeUndefined();
  });

  it('parses a custom map', () => {
    const map = parseDiscordReactions('🎲=reseed, 🌱=subtle:2 ,⬆️=upscale:4');
    expect(map.entries).toEqual([
      { emoji: '🎲', key: '🎲', action: { action: 'reseed' } },
      { emoji: '🌱', key: '🌱', action: { action: 'variation', mode: 'subtle', index: 1 } },
      { emoji: '⬆️', key: '⬆', action: { action: 'upscale', index: 3 } },
    ]);
    expect(describeDiscordReactions(map)).toBe('Reactions on a result: 🎲 new seed · 🌱 subtle variations of image 2 · ⬆️ upscale image 4.');
  });

  it.each([
    ['🔁', 'has no "="'],
    ['🔁=vary:5', 'names image 5'],
    ['🔁=reseed:2', 'cannot name an image'],
    ['🔁=explode', '"explode" is not an action'],
    ['🔁=vary,🔁=reseed', 'is listed twice'],
  ])('refuses %s naming the variable', (text, detail) => {
    let error: unknown;
    try {
      parseDiscordReactions(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('DISCORD_REACTIONS');
    expect((error as Error).message).toContain(detail);
  });
});

describe('slash commands', () => {
  it('take their limits and sampler choices from configuration', () => {
    const [imagine, ...rest] = buildSlashCommands({ maxSteps: 30, maxN: 2, allowedSamplers: ['euler', 'ddim'], pressPolicy: 'requester' });
    expect(rest.map((c) => c.name)).toEqual(['cancel', 'queue', 'help']);
    const opt = (name: string) => (imagine.options as any[]).find((o) => o.name === name);
    expect([opt('steps').min_value, opt('steps').max_value]).toEqual([1, 30]);
    expect([opt('count').min_value, opt('count').max_value]).toEqual([1, 2]);
    expect(opt('sampler').choices).toEqual([{ name: 'euler', value: 'euler' }, { name: 'ddim', value: 'ddim' }]);
    expect(opt('model').autocomplete).toBe(true);
    expect(opt('aspect').autocomplete).toBe(true);
    expect(opt('image').type).toBe(11);
    expect(opt('prompt').required).toBe(true);
    expect(imagine.options!.length).toBeLessThanOrEqual(25);
  });

  it('autocomplete offers the typed ratio first and matching suggestions', () => {
    expect(aspectChoices('7 : 5').map((c) => c.value)).toEqual(['7:5']);
    expect(aspectChoices('16').map((c) => c.value)).toEqual(['16:9']);
    expect(aspectChoices('').length).toBe(9);
    expect(modelChoices(['tiny', 'sd15', 'sdxl-turbo'], 'SD').map((c) => c.value)).toEqual(['sd15', 'sdxl-turbo']);
  });
});

describe('rendering', () => {
  it('keeps prompts from formatting, mentioning or overflowing', () => {
    expect(quotePrompt('**bold** @everyone <@1> `x` a_b')).toBe('\\*\\*bold\\*\\* @\u200beveryone <@\u200b1\\> \\`x\\` a\\_b');
    const long = renderQueued(payload('x'.repeat(4000)), 3, 'job-1', ['w'.repeat(1500)]);
    expect(long.content.length).toBeLessThanOrEqual(MAX_CONTENT);
    expect(long.content).toContain('…');
  });

  it('shows the queue position, then steps with an ETA, with a cancel button', () => {
    const queued = renderQueued(payload('a cat'), 2, 'job-1', ['Prompt truncated.']);
    expect(queued.content).toBe('**a cat** — <@20000>\n`seed 1` · `euler` · `4 steps` · `cfg 7` · `64x64` · `tiny`\nQueued — position 2\n-# ⚠️ Prompt truncated.');
    expect(queued.components).toEqual([{ type: 1, components: [{ type: 2, style: 4, label: '✖', custom_id: 'im1:c:job-1' }] }]);
    // Once jobs were measured, a queued job says about when it starts, as a running one says when it ends.
    expect(renderQueued(payload('a cat'), 2, 'job-1', [], 15_000).content.split('\n')[2]).toBe('Queued — position 2 · starts in about 30 s');
    expect(renderProgress(payload('a cat'), { step: 3, total: 4, etaMs: 95_000 }, 'job-1').content.split('\n')[2]).toBe('Step 3/4 (75%) · about 1 min 35 s left');
  });

  it('gives a single-image result U1, then 🔄 Vary (Subtle) Vary (Strong) ✖ (no V1 beside Vary (Strong))', () => {
    const one = testResult({ images: testResult().images.slice(0, 1) });
    const rows = renderResult(payload('a cat'), one).components;
    expect(rows.map((row) => row.components.map((b) => b.label))).toEqual([['U1'], ['🔄', 'Vary (Subtle)', 'Vary (Strong)', '✖'], ['Remix'], ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'], ['⬅', '➡', '⬆', '⬇']]);
    expect(rows[1].components[2]).toEqual({ type: 2, style: 2, label: 'Vary (Strong)', custom_id: 'im1:x:res-1:0' });
  });

  it("names an upscaled result's real size (128x128), not its 64x64 source's", () => {
    const source = payload('a cat');
    const upscale: JobPayload = { ...source, kind: 'upscale', factor: 2, source: { resultId: 'res-1', index: 0 }, parentResultId: 'res-1' };
    const image = { artifact: { key: 'res-2/0.png', bytes: 1, contentType: 'image/png' }, seed: 1, width: 128, height: 128 };
    const content = renderResult(upscale, testResult({ kind: 'upscale', params: source.params, images: [image] })).content;
    expect(content.split('\n')[1]).toBe('`seed 1` · `euler` · `4 steps` · `cfg 7` · `128x128` · `tiny`');
  });

  it('describes the queue for /queue', () => {
    const jobs = [
      { jobId: 'a', state: 'active' as const, position: 0, payload: payload('first') },
      { jobId: 'b', state: 'waiting' as const, position: 3, payload: payload('second') },
    ];
    expect(describeQueue(jobs, { waiting: 5, active: 1 }, 20_000)).toBe(
      'Your jobs (2):\n• first — txt2img 64x64, seed 1 · running now · job a\n• second — txt2img 64x64, seed 1 · position 3, starts in about 1 min 0 s · job b\nQueue: 5 waiting, 1 running.',
    );
    expect(describeQueue([], { waiting: 0, active: 0 }, null)).toBe('You have no queued or running jobs.\nQueue: 0 waiting, 0 running.');
  });
});

describe('nonces', () => {
  it('are stable per job and kind, and within Discord\'s 25 characters', () => {
    expect(nonceFor('job-1', 'result')).toBe(nonceFor('job-1', 'result'));
    expect(nonceFor('job-1', 'result')).not.toBe(nonceFor('job-1', 'progress'));
    expect(nonceFor('job-1', 'result')).not.toBe(nonceFor('job-2', 'result'));
    expect(nonceFor('x'.repeat(500), 'result')).toHaveLength(MAX_NONCE_LENGTH);
  });
});

describe('fitting an image under the attachment limit', () => {
  /** A gradient with grain: large as PNG, small as WebP, like a photo. */
  const noise = async (side: number) => {
    const raw = Buffer.alloc(side * side * 3);
    let x = 1;
    for (let i = 0; i < raw.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      raw[i] = ((i / 3) % side) + ((x >> 16) & 15);
    }
    return sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
  };

  it('keeps a PNG that fits', async () => {
    const png = await noise(32);
    const fit = await fitImage(png, png.length);
    expect(fit.data).toBe(png);
    expect(fit.change).toBeNull();
    expect(describeFit(fit)).toBeNull();
  });

  it('re-encodes, then downscales, until it fits', async () => {
    const png = await noise(256);
    const reencoded = await fitImage(png, Math.floor(png.length / 2));
    expect(reencoded.data.length).toBeLessThanOrEqual(png.length / 2);
    expect(reencoded.change).toEqual({ format: 'webp', quality: 90, scaled: false, originalBytes: png.length });
    expect([reencoded.width, reencoded.height]).toEqual([256, 256]);

    const tiny = await fitImage(png, 1500);
    expect(tiny.data.length).toBeLessThanOrEqual(1500);
    expect(tiny.change?.scaled).toBe(true);
    const meta = await sharp(tiny.data).metadata();
    expect([meta.width, meta.height]).toEqual([tiny.width, tiny.height]);
    expect(tiny.width).toBeLessThan(256);
    expect(describeFit(tiny)).toMatch(/downscaled to \d+x\d+\.$/);
  });

  it('gives up with a clear error when nothing fits', async () => {
    await expect(fitImage(await noise(64), 10)).rejects.toThrow(/cannot be brought under 10 bytes/);
  });
});

describe('splitting long messages', () => {
  it('splits at line ends, and hard-splits only a line longer than a message', () => {
    expect(splitMessage('aaa\nbbb\ncc', 7)).toEqual(['aaa\nbbb', 'cc']);
    expect(splitMessage('x'.repeat(10) + '\ny', 4)).toEqual(['xxxx', 'xxxx', 'xx\ny']);
    expect(splitMessage('short')).toEqual(['short']);
  });
});
