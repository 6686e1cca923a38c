/** Rendering for Discord: prompts that cannot format or mention, queued and progress messages, result buttons and sizes, the /queue listing. */
import { describe, expect, it } from 'vitest';
import { describeQueue } from '../../../adapters/discord/queue-commands.ts';
import { MAX_CONTENT, quotePrompt, renderProgress, renderQueued, renderResult } from '../../../adapters/discord/render.ts';
import { JOB_VERSION, type JobPayload } from '../../../src/jobs.ts';
import { testResult } from '../../../kit/job-fixtures.ts';

const payload = (prompt: string): JobPayload => ({
  v: JOB_VERSION,
  kind: 'txt2img',
  origin: { platform: 'discord', channelId: '10000', userId: '20000' },
  params: { prompt, negativePrompt: '', seed: 1, steps: 4, guidance: 7, width: 64, height: 64, n: 1, sampler: 'euler', model: 'tiny' },
  createdAt: 0,
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
