/** Block Kit rendering within Slack's limits: parent, status, result (with its parameters) and failure messages. */
import { describe, expect, it } from 'vitest';
import { BLOCK_KIT_LIMITS, blockKitProblems, renderFailure, renderParent, renderResult, renderStatus, statusLine } from '../../../adapters/slack/render.ts';
import { JOB_VERSION, jobPayloadSchema, parseJobResult, type JobPayload } from '../../../src/jobs.ts';

function payload(prompt: string, n = 4): JobPayload {
  return jobPayloadSchema.parse({
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadId: '1.000001', userId: 'U1', messageId: '1.000002' },
    params: { prompt, negativePrompt: '', seed: 9, steps: 20, guidance: 7, width: 512, height: 512, n, sampler: 'euler_a', model: 'sd15' },
    createdAt: 0,
  });
}

function result(p: JobPayload) {
  return parseJobResult({
    v: JOB_VERSION,
    resultId: 'r_' + 'x'.repeat(62),
    jobId: 'j1',
    kind: 'txt2img',
    params: p.params,
    origin: p.origin,
    images: Array.from({ length: p.params.n }, (_, i) => ({ artifact: { key: `k${i}`, bytes: 1, contentType: 'image/png' }, seed: 9 + i, width: 512, height: 512 })),
    timings: {},
    model: 'sd15',
    sampler: 'euler_a',
    provider: 'cpu',
    createdAt: 0,
  });
}

describe('Block Kit rendering', () => {
  it('keeps every message within Slack limits, whatever the prompt', () => {
    const huge = payload('a very long prompt '.repeat(210).slice(0, 4000));
    const messages = [
      renderParent(huge),
      renderStatus(huge, { kind: 'progress', update: { step: 3, total: 20, etaMs: 65_000 } }, 'job-1'),
      renderResult(huge, result(huge), ['a note '.repeat(100)]),
      renderFailure({ jobId: 'job-1', origin: huge.origin, payload: huge }, { message: 'x'.repeat(2500), retry: true }),
    ];
    for (const m of messages) {
      expect(blockKitProblems(m)).toEqual([]);
      for (const b of m.blocks as any[]) if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.sectionTextLength);
    }
    expect(JSON.stringify(messages[1].blocks)).toContain('Step 3/20 (15%) · about 1 min 5 s left');
  });

  it('finds what breaks Block Kit limits', () => {
    const tooMany = { text: 't', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) };
    expect(blockKitProblems(tooMany)).toEqual(['51 blocks']);
    const badButton = {
      text: 't',
      blocks: [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'x'.repeat(76) }, action_id: 'a'.repeat(256), value: 'v' }] }],
    };
    expect(blockKitProblems(badButton)).toEqual(['action_id 256 characters', 'button text 76 characters']);
  });

  it('renders the grid result with its buttons and mentions only the requester', () => {
    const p = payload('a fox <!channel>');
    const m = renderResult(p, result(p));
    const actions = (m.blocks as any[]).filter((b) => b.type === 'actions');
    expect(actions.map((b) => b.elements.map((e: any) => e.text.text))).toEqual([
      ['U1', 'U2', 'U3', 'U4'],
      ['V1', 'V2', 'V3', 'V4'],
      ['🔄', '✖'],
    ]);
    expect(actions.flatMap((b) => b.elements).every((e: any) => e.action_id === e.value && e.action_id.length <= 100)).toBe(true);
    expect(actions[2].elements[1].style).toBe('danger');
    expect(m.text).toBe('Images for <@U1>: a fox &lt;!channel&gt;');
    expect(JSON.stringify(m.blocks).match(/<[@!#]/g)).toEqual(['<@']);
  });
});

describe('Slack result parameters', () => {
  it("name an upscaled result's real size (128x128), not its 64x64 source's", () => {
    const source = payload('a fox', 1);
    const small = { ...source, params: { ...source.params, width: 64, height: 64 } };
    const upscale = jobPayloadSchema.parse({ ...small, kind: 'upscale', factor: 2, source: { resultId: 'r1', index: 0 }, parentResultId: 'r1' });
    const stored = result(small);
    const upscaled = parseJobResult({ ...stored, kind: 'upscale', images: [{ ...stored.images[0], width: 128, height: 128 }] });
    const contexts = (renderResult(upscale, upscaled).blocks as any[]).filter((b) => b.type === 'context');
    expect(contexts[0].elements[0].text).toBe('`seed 9` · `euler_a` · `20 steps` · `cfg 7` · `128x128` · `sd15`');
  });
});

describe('Slack queued status', () => {
  it('says about when a queued job starts once jobs were measured, as the running status says when it ends', () => {
    expect(statusLine({ kind: 'queued', position: 2, averageMs: 5_000 })).toBe('⏳ Queued — position 2 · starts in about 10 s');
    expect(statusLine({ kind: 'queued', position: 2, averageMs: null })).toBe('⏳ Queued — position 2');
    expect(statusLine({ kind: 'queued', position: 0, averageMs: 5_000 })).toBe('⚙️ Starting…');
  });
});
