/**
 * The web adapter's inbound side without a browser: typed commands and button presses go
 * through the shared commands to the real in-process queue, result store and artifact store.
 * Also: "copy command" writes a command that makes exactly the same parameters again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imagine } from '../../../commands/imagine.ts';
import { describeResult } from '../../../commands/summary.ts';
import { commandText, parseWebCommand } from '../../../adapters/web/command-text.ts';
import { WebDeliverer } from '../../../adapters/web/deliver.ts';
import { MemoryWebEventHub, type WebEvent } from '../../../adapters/web/events.ts';
import { Gallery } from '../../../adapters/web/gallery.ts';
import { WebInbound } from '../../../adapters/web/inbound.ts';
import { resultView } from '../../../adapters/web/view.ts';
import { encodeAction } from '../../../src/actions.ts';
import { FsArtifactStore } from '../../../src/artifacts-fs.ts';
import { loadConfig } from '../../../src/root/config.ts';
import { deliveryTarget } from '../../../src/delivery.ts';
import { resultSchema, type GenerationParams, type JobResult } from '../../../src/jobs.ts';
import { averageJobMs, recordJobDuration } from '../../../src/job-durations.ts';
import { MemoryKeyValueStore } from '../../../src/kv-memory.ts';
import { createLogger } from '../../../src/logger.ts';
import { createModelCatalog } from '../../../src/models.ts';
import { LocalJobQueue } from '../../../src/queue/local-queue.ts';
import { ResultStore } from '../../../src/results.ts';
import { context, SD15, TINY, wordTokenCounter } from '../../support/command-context.ts';

const temp = mkdtempSync(path.join(os.tmpdir(), 'web-adapter-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const ALICE = 'AAAAAAAAAAAAAAAAAAAAAA';
const BOB = 'BBBBBBBBBBBBBBBBBBBBBB';
const alice = { userId: ALICE };
const bob = { userId: BOB };

function rig() {
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const kv = new MemoryKeyValueStore();
  const results = new ResultStore(kv);
  const artifacts = new FsArtifactStore(path.join(temp, `a-${Math.random().toString(36).slice(2)}`));
  const queue = new LocalJobQueue({ config, secrets: kv });
  const gallery = new Gallery(kv, results, 3600);
  let seed = 1000;
  const inbound = new WebInbound({
    config,
    queue,
    results,
    artifacts,
    models: createModelCatalog([TINY, SD15], 'tiny'),
    gallery,
    countTokens: wordTokenCounter,
    logger: createLogger({ level: 'silent' }),
    jobPayload: (id) => queue.jobPayload(id),
    randomSeed: () => seed++,
    averageJobMs: () => averageJobMs(kv),
  });
  return { kv, queue, results, artifacts, gallery, inbound };
}

async function storedResult(r: ReturnType<typeof rig>, owner: string): Promise<JobResult> {
  const resultId = `r-${owner.slice(0, 4)}-${Math.random().toString(36).slice(2, 8)}`;
  const images = [];
  for (let i = 0; i < 2; i++) images.push({ artifact: await r.artifacts.put(`${resultId}/${i}.png`, Buffer.from(`png ${i}`), 'image/png'), seed: 50 + i, width: 64, height: 64 });
  const result = resultSchema.parse({
    v: 1,
    resultId,
    jobId: `job-${resultId}`,
    kind: 'txt2img',
    params: { prompt: 'a red circle on a blue background', negativePrompt: '', seed: 50, steps: 8, guidance: 5, width: 64, height: 64, n: 2, sampler: 'euler_a', model: 'tiny' },
    origin: { platform: 'web', channelId: owner, userId: owner },
    images,
    grid: await r.artifacts.put(`${resultId}/grid.png`, Buffer.from('grid'), 'image/png'),
    timings: { totalMs: 10 },
    model: 'tiny',
    sampler: 'euler_a',
    provider: 'cpu',
    createdAt: Date.now(),
  });
  await r.results.save(result, 3600);
  await r.gallery.add(owner, resultId);
  return result;
}

describe('copy command', () => {
  const cases: GenerationParams[] = [
    { prompt: 'a lighthouse at dusk, oil painting', negativePrompt: 'fog, blur', seed: 123456, steps: 30, guidance: 6.5, width: 704, height: 384, n: 2, sampler: 'dpmpp_2m_karras', model: 'sd15' },
    { prompt: 'a "quoted --seed 5" prompt', negativePrompt: '', seed: 0, steps: 12, guidance: 5, width: 64, height: 96, n: 4, sampler: 'euler_a', model: 'tiny' },
  ];
  it.each(cases)('the command for $model $width x $height makes the same parameters again', (params) => {
    const text = parseWebCommand(commandText(params));
    expect(text.name).toBe('imagine');
    const outcome = imagine({ text: text.rest }, context({ origin: { platform: 'web' } }));
    if (outcome.kind !== 'job') throw new Error(`refused: ${'message' in outcome ? outcome.message : outcome.kind}`);
    expect(outcome.payload.params).toEqual(params);
  });

  it('says "Copy command" only where the line makes the same image again; a variation or upscale is labelled for what its line is', async () => {
    const r = rig();
    const source = await storedResult(r, ALICE);
    const made = resultView(source, 'spoiler');
    expect(made.copy).toEqual({ label: 'Copy command', note: 'The exact /imagine line that makes this image again, here, on Discord or on Slack.' });
    for (const kind of ['variation', 'upscale'] as const) {
      const derived = resultView({ ...source, kind, parentResultId: source.resultId, params: { ...source.params, n: 1 } }, 'spoiler');
      expect(derived.copy.label).toBe('Copy prompt & settings');
      expect(derived.copy.note).toContain('no /imagine line remakes it');
      // What the line does make: a fresh txt2img job, not the variation or upscale it sits under.
      const outcome = imagine({ text: parseWebCommand(derived.command).rest }, context({ origin: { platform: 'web' } }));
      expect(outcome.kind === 'job' && outcome.payload.kind).toBe('txt2img');
    }
  });

  it('reads what people type into the box', () => {
    expect(parseWebCommand('  /imagine  a cat --n 1 ')).toEqual({ name: 'imagine', rest: 'a cat --n 1' });
    expect(parseWebCommand('a cat')).toEqual({ name: 'imagine', rest: 'a cat' });
    expect(parseWebCommand('/HELP')).toEqual({ name: 'help', rest: '' });
    expect(parseWebCommand('/cancel job-1')).toEqual({ name: 'cancel', rest: 'job-1' });
    expect(parseWebCommand('/draw x')).toEqual({ name: 'unknown', rest: 'x', typed: 'draw' });
  });
});

describe('typed commands', () => {
  it('/imagine queues a web job for the session, a repeated request id is one job, a bad flag is refused', async () => {
    const r = rig();
    const reply = await r.inbound.text(alice, '/imagine a red circle on a blue background --n 2', 'request-0001');
    expect(reply).toMatchObject({ kind: 'queued', position: 1, duplicate: false, summary: '64x64 · 2 images · seed 1000 · 20 steps · euler_a · cfg 5 · tiny', warnings: [] });
    // The job card's headline is the prompt; the parameters are the line under it.
    expect(reply).toMatchObject({ prompt: 'a red circle on a blue background' });
    if (reply.kind !== 'queued') return;
    expect(reply.rows).toEqual([[{ id: encodeAction({ action: 'cancel', jobId: reply.jobId }), label: '✖', style: 'danger', title: 'Cancel this job' }]]);
    const [job] = await r.queue.userJobs(ALICE);
    expect(job.payload.origin).toEqual({ platform: 'web', channelId: ALICE, userId: ALICE, userName: 'you', eventId: `web:${ALICE}:request-0001` });
    expect(await r.inbound.text(alice, '/imagine a red circle on a blue background --n 2', 'request-0001')).toMatchObject({ kind: 'queued', jobId: reply.jobId, duplicate: true });
    expect(await r.inbound.text(alice, '/imagine a cat --stepz 4')).toMatchObject({ kind: 'message', code: 'unknown-flag' });
    expect(await r.inbound.text(alice, '/draw a cat')).toEqual({ kind: 'message', code: 'unknown-command', message: 'There is no /draw here. Try /imagine, /cancel, /queue or /help.' });
    expect(await r.inbound.text(alice, '/help')).toMatchObject({ kind: 'message', code: 'help', message: expect.stringContaining('/imagine <prompt> [flags]') });
    expect(await r.inbound.text(alice, '/queue')).toEqual({
      kind: 'message',
      code: 'queue',
      message: `Your jobs (1):\n• “a red circle on a blue background” — txt2img 64x64 ×2, seed 1000 · position 1 · job ${reply.jobId.slice(0, 8)}\nQueue: 1 waiting, 0 running.`,
    });
  });

  it('a queued reply and /queue say about when a waiting job starts, once the workers measured a job', async () => {
    const r = rig();
    const before = await r.inbound.text(alice, '/imagine a cat --n 1');
    expect(before).toMatchObject({ kind: 'queued', position: 1, etaMs: null });
    await recordJobDuration(r.kv, 9_000);
    const after = await r.inbound.text(alice, '/imagine a cat --n 1');
    expect(after).toMatchObject({ kind: 'queued', position: 2, etaMs: 18_000 });
    const report = await r.inbound.text(alice, '/queue');
    if (report.kind !== 'message' || before.kind !== 'queued' || after.kind !== 'queued') throw new Error('unexpected replies');
    // Same prompt twice: the lines differ by place, wait, seed and job id.
    expect(report.message.split('\n').slice(1, 3)).toEqual([
      `• “a cat” — txt2img 64x64, seed 1000 · position 1, starts in about 9 s · job ${before.jobId.slice(0, 8)}`,
      `• “a cat” — txt2img 64x64, seed 1001 · position 2, starts in about 18 s · job ${after.jobId.slice(0, 8)}`,
    ]);
  });

  it('a request id is scoped to its session: another session reusing it gets its own job, not the first one', async () => {
    const r = rig();
    const first = await r.inbound.text(alice, '/imagine a red circle', 'shared-request-id');
    const resent = await r.inbound.text(alice, '/imagine a red circle', 'shared-request-id');
    const other = await r.inbound.text(bob, '/imagine a blue square', 'shared-request-id');
    if (first.kind !== 'queued' || resent.kind !== 'queued' || other.kind !== 'queued') throw new Error('not queued');
    expect(resent).toMatchObject({ jobId: first.jobId, duplicate: true });
    expect(other.duplicate).toBe(false);
    expect(other.jobId).not.toBe(first.jobId);
    expect((await r.queue.userJobs(BOB)).map((j) => [j.jobId, j.payload.params.prompt])).toEqual([[other.jobId, 'a blue square']]);
  });

  it('/cancel removes the waiting jobs of this session only', async () => {
    const r = rig();
    await r.inbound.text(alice, '/imagine one');
    await r.inbound.text(alice, '/imagine two');
    await r.inbound.text(bob, '/imagine three');
    expect(await r.inbound.text(alice, '/cancel')).toMatchObject({ kind: 'cancelled', message: 'Cancelling your 2 jobs.' });
    expect(await r.queue.userJobs(ALICE)).toEqual([]);
    expect(await r.queue.userJobs(BOB)).toHaveLength(1);
    expect(await r.inbound.text(alice, '/cancel')).toEqual({ kind: 'message', code: 'nothing-to-cancel', message: 'You have no queued or running jobs.' });
  });
});

describe('buttons, from the result store alone', () => {
  it('V1, U2 and 🔄 queue jobs derived from the stored result', async () => {
    const r = rig();
    const result = await storedResult(r, ALICE);
    const v1 = await r.inbound.press(alice, encodeAction({ action: 'variation', resultId: result.resultId, index: 0 }));
    const u2 = await r.inbound.press(alice, encodeAction({ action: 'upscale', resultId: result.resultId, index: 1 }));
    const again = await r.inbound.press(alice, encodeAction({ action: 'reseed', resultId: result.resultId }));
    for (const reply of [v1, u2, again]) expect(reply).toMatchObject({ kind: 'queued', parentResultId: result.resultId });
    const jobs = await r.queue.userJobs(ALICE);
    expect(jobs.map((j) => j.payload.kind)).toEqual(['variation', 'upscale', 'txt2img']);
    expect(jobs[0].payload).toMatchObject({ source: { resultId: result.resultId, index: 0 }, mode: 'strong' });
    expect(jobs[1].payload).toMatchObject({ source: { resultId: result.resultId, index: 1 }, factor: 2 });
    expect(jobs[2].payload.params.seed).not.toBe(result.params.seed);
  });

  it("another session may not press someone's buttons; unknown ids and expired results are answered", async () => {
    const r = rig();
    const result = await storedResult(r, ALICE);
    expect(await r.inbound.press(bob, encodeAction({ action: 'variation', resultId: result.resultId, index: 0 }))).toMatchObject({ kind: 'message', code: 'not-allowed' });
    expect(await r.inbound.press(bob, encodeAction({ action: 'delete', resultId: result.resultId }))).toMatchObject({ kind: 'message', code: 'not-allowed' });
    expect(await r.inbound.press(alice, 'other-app:button')).toMatchObject({ kind: 'message', code: 'unknown-button' });
    expect(await r.inbound.press(alice, encodeAction({ action: 'reseed', resultId: 'r-gone' }))).toMatchObject({ kind: 'message', code: 'expired' });
    expect(await r.queue.counts()).toMatchObject({ waiting: 0 });
  });

  it('✖ on a result removes it from the store, the gallery and the artifact store', async () => {
    const r = rig();
    const keep = await storedResult(r, ALICE);
    const gone = await storedResult(r, ALICE);
    expect((await r.gallery.list(ALICE)).map((x) => x.resultId)).toEqual([gone.resultId, keep.resultId]);
    expect(await r.inbound.press(alice, encodeAction({ action: 'delete', resultId: gone.resultId }))).toEqual({ kind: 'deleted', resultId: gone.resultId, message: 'Removed.' });
    expect(await r.results.get(gone.resultId)).toBeNull();
    expect(await r.artifacts.get(`${gone.resultId}/grid.png`)).toBeNull();
    expect(await r.artifacts.get(`${gone.resultId}/0.png`)).toBeNull();
    expect((await r.gallery.list(ALICE)).map((x) => x.resultId)).toEqual([keep.resultId]);
  });

  it('✖ on a queued job cancels it; Retry runs a stored request again', async () => {
    const r = rig();
    const queued = await r.inbound.text(alice, '/imagine a cat --seed 9');
    if (queued.kind !== 'queued') throw new Error('not queued');
    expect(await r.inbound.press(bob, queued.rows[0][0].id)).toMatchObject({ kind: 'message', code: 'not-found' });
    expect(await r.inbound.press(alice, queued.rows[0][0].id)).toEqual({ kind: 'cancelled', jobIds: [queued.jobId], message: 'Cancelling your job.' });

    const failedJob = await r.inbound.text(alice, '/imagine a dog --seed 10');
    if (failedJob.kind !== 'queued') throw new Error('not queued');
    const retried = await r.inbound.press(alice, encodeAction({ action: 'retry', jobId: failedJob.jobId }), 'retry-request');
    expect(retried).toMatchObject({ kind: 'queued', summary: expect.stringMatching(/^Retry · .*seed 10/) });
    expect(await r.inbound.press(alice, encodeAction({ action: 'retry', jobId: 'job-unknown' }))).toMatchObject({ kind: 'message', code: 'expired' });
  });
});

describe('web deliverer', () => {
  it('addresses every event to the session that owns the job and reports the job as the message', async () => {
    const hub = new MemoryWebEventHub();
    const seen: WebEvent[] = [];
    hub.subscribe((e) => seen.push(e));
    const deliverer = new WebDeliverer(hub);
    const r = rig();
    const result = await storedResult(r, ALICE);
    const payload = (await r.queue.jobPayload((await r.inbound.text(alice, '/imagine x') as { jobId: string }).jobId))!;
    const ctx = { jobId: 'job-7', payload, secret: null };
    await deliverer.progress(ctx, { step: 3, total: 8, etaMs: 500, preview: Buffer.from([1, 2, 3]) });
    expect(await deliverer.result(ctx, result, { grid: Buffer.alloc(0), images: [] })).toEqual({ messageId: 'job-7', channelId: ALICE });
    await deliverer.failure(deliveryTarget(ctx), { message: 'Cancelled.', retry: false, cancelled: true });
    expect(seen).toEqual([
      { type: 'progress', session: ALICE, jobId: 'job-7', step: 3, total: 8, etaMs: 500, preview: 'data:image/png;base64,AQID' },
      { type: 'result', session: ALICE, jobId: 'job-7', result },
      { type: 'failure', session: ALICE, jobId: 'job-7', message: 'Cancelled.', retry: false, cancelled: true },
    ]);
    await expect(deliverer.progress({ ...ctx, payload: { ...payload, origin: { ...payload.origin, platform: 'slack' } } }, { step: 1, total: 2, etaMs: null })).rejects.toThrow(/web deliverer got a slack job/);
    const view = resultView(result, 'spoiler');
    expect(view.gridUrl).toBe(`/api/images/${result.resultId}/grid.png`);
    expect(view).toMatchObject({ flagged: false, withheld: false });
    const flagged = { ...result, images: result.images.map((img, i) => ({ ...img, nsfw: i === 1 })) };
    expect(resultView(flagged, 'spoiler')).toMatchObject({ flagged: true, withheld: false });
    expect(resultView(flagged, 'withhold')).toMatchObject({ flagged: true, withheld: true });
    expect(resultView(result, 'withhold')).toMatchObject({ flagged: false, withheld: false });
    expect(view.rows.flat().map((b) => b.label)).toEqual(['U1', 'U2', 'V1', 'V2', '🔄', '✖']);
    // 🔄 is drawn as an icon on the page (no emoji font needed); the other labels are plain text.
    expect(view.rows.flat().map((b) => b.icon ?? null)).toEqual([null, null, null, null, 'reseed', null]);
    expect(view.summary).toBe(describeResult(result.params, result.images));
    expect(resultView(flagged, 'withhold').images.map((i) => [i.flagged, i.withheld])).toEqual([[false, false], [true, true]]);
    const single = resultView({ ...result, images: result.images.slice(0, 1) }, 'spoiler');
    // The playground has its own editor, so Vary (Region) is always there.
    expect(single.rows.map((row) => row.map((b) => b.label))).toEqual([['U1'], ['🔄', 'Vary (Subtle)', 'Vary (Strong)', '✖'], ['Vary (Region)', 'Remix'], ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'], ['⬅', '➡', '⬆', '⬇']]);
    expect(single.rows[1][2]).toMatchObject({ id: encodeAction({ action: 'vary-strong', resultId: result.resultId, index: 0 }), title: 'Strong variation of image 1' });
    // Vary (Region) opens the editor over image 1; Remix and Custom Zoom open their forms, prefilled.
    const prompt = result.params.negativePrompt ? `${result.params.prompt} --no ${result.params.negativePrompt}` : result.params.prompt;
    expect(single.rows[2].map((b) => b.opens)).toEqual([
      { kind: 'region', index: 0 },
      { kind: 'form', form: expect.objectContaining({ id: encodeAction({ action: 'remix', resultId: result.resultId, index: 0 }), title: 'Remix', value: prompt }) },
    ]);
    expect(single.rows[3][2].opens).toEqual({ kind: 'form', form: expect.objectContaining({ action: 'zoom-custom', value: `${prompt} --zoom 2` }) });
    expect(single.rows[3][0].opens).toBeUndefined();
  });
});
