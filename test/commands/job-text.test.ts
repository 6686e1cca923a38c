/** The platform-neutral words about jobs and the queue (commands/job-text.ts, commands/queue-report.ts). */
import { describe, expect, it } from 'vitest';
import { derivedJobText, formatEta, parameterLine, progressText, queuedEtaMs, queuedText, resultParameterLine } from '../../commands/job-text.ts';
import { describeQueue } from '../../commands/queue-report.ts';
import { jobPayloadSchema, JOB_VERSION, type JobPayload } from '../../src/jobs.ts';
import { testResult, txt2imgPayload } from '../../kit/job-fixtures.ts';

const base = txt2imgPayload();
const derived = (extra: Record<string, unknown>): JobPayload =>
  jobPayloadSchema.parse({ v: JOB_VERSION, origin: base.origin, params: { ...base.params, n: 1 }, createdAt: base.createdAt, parentResultId: 'res-1', ...extra });

describe('job text', () => {
  it('names a derived job, and nothing for a prompt alone', () => {
    const source = { resultId: 'res-1', index: 1, artifactKey: 'res-1/1.png' };
    expect(derivedJobText(derived({ kind: 'variation', mode: 'subtle', source, strength: 0.6 }))).toBe('Subtle variation of image 2');
    expect(derivedJobText(derived({ kind: 'variation', mode: 'strong', source, strength: 0.6 }))).toBe('Strong variation of image 2');
    expect(derivedJobText(derived({ kind: 'upscale', factor: 2, source }))).toBe('Upscaled ×2 (image 2)');
    expect(derivedJobText(derived({ kind: 'edit', edit: { type: 'zoom', factor: 1.5 }, source }))).toBe('Zoom out 1.5x of image 2');
    expect(derivedJobText(derived({ kind: 'edit', edit: { type: 'pan', direction: 'left' }, source }))).toBe('Pan left of image 2');
    expect(derivedJobText(derived({ kind: 'edit', edit: { type: 'region', maskArtifactKey: 'uploads/m.png' }, source }))).toBe('Vary (Region) of image 2');
    expect(derivedJobText(base)).toBeNull();
  });

  it('says how far a job has got', () => {
    expect(progressText({ step: 3, total: 4, etaMs: 95_000 })).toBe('Step 3/4 (75%) · about 1 min 35 s left');
    expect(progressText({ step: 1, total: 3, etaMs: null })).toBe('Step 1/3 (33%)');
    expect(progressText({ step: 0, total: 0, etaMs: 0 })).toBe('Step 0/0 (0%)');
    expect(formatEta(200)).toBe('1 s');
    expect(formatEta(59_400)).toBe('59 s');
  });

  it('lists the parameters as code spans, the model as the platform shows it', () => {
    expect(parameterLine(base.params)).toBe('`seed 42` · `euler_a` · `20 steps` · `cfg 7.5` · `512x512` · `tiny`');
    expect(parameterLine(base.params, { width: 512, height: 512, seeds: [1, 2] }, (m) => m.toUpperCase())).toBe('`seeds 1, 2` · `euler_a` · `20 steps` · `cfg 7.5` · `512x512` · `TINY`');
  });

  it("gives a result the size of the images it holds: an upscale of a 64x64 image says 128x128", () => {
    const image = { artifact: { key: 'res-2/0.png', bytes: 1, contentType: 'image/png' }, seed: 43 };
    const upscaled = testResult({ kind: 'upscale', params: { ...base.params, width: 64, height: 64, n: 1 }, images: [{ ...image, width: 128, height: 128 }] });
    expect(resultParameterLine(upscaled)).toBe('`seed 43` · `euler_a` · `20 steps` · `cfg 7.5` · `128x128` · `tiny`');
    expect(resultParameterLine(testResult())).toBe('`seeds 42, 43` · `euler_a` · `20 steps` · `cfg 7.5` · `512x512` · `tiny`');
  });
});

describe('queue report', () => {
  const jobs = [
    { jobId: 'a1111111-aaaa', state: 'active' as const, position: null, payload: txt2imgPayload({ prompt: 'first' }) },
    { jobId: 'b2222222-bbbb', state: 'waiting' as const, position: 0, payload: txt2imgPayload({ prompt: 'second' }) },
    { jobId: 'c3333333-cccc', state: 'waiting' as const, position: 4, payload: txt2imgPayload({ prompt: 'third' }) },
    { jobId: 'd4444444-dddd', state: 'waiting' as const, position: null, payload: txt2imgPayload({ prompt: 'fourth' }) },
  ];

  it('says where each job stands, with when a waiting one starts only when the average job time is known', () => {
    expect(describeQueue(jobs, { waiting: 7, active: 2 }, (p) => `<${p}>`)).toBe(
      [
        'Your jobs (4):',
        '• <first> — txt2img 512x512 ×4, seed 42 · running now · job a1111111',
        '• <second> — txt2img 512x512 ×4, seed 42 · running now · job b2222222',
        '• <third> — txt2img 512x512 ×4, seed 42 · position 4 · job c3333333',
        '• <fourth> — txt2img 512x512 ×4, seed 42 · finishing · job d4444444',
        'Queue: 7 waiting, 2 running.',
      ].join('\n'),
    );
    expect(describeQueue(jobs.slice(2, 3), { waiting: 7, active: 2 }, (p) => p, 10_000)).toBe(
      'Your jobs (1):\n• third — txt2img 512x512 ×4, seed 42 · position 4, starts in about 40 s · job c3333333\nQueue: 7 waiting, 2 running.',
    );
  });

  it('tells jobs with the same prompt apart: size, count, seed, place and a short id', () => {
    const one = txt2imgPayload({ prompt: 'a cat', seed: 1 });
    const two = jobPayloadSchema.parse({ ...one, params: { ...one.params, seed: 2, width: 768, n: 1 } });
    const lines = describeQueue(
      [
        { jobId: '0f3a9c1e-1', state: 'waiting', position: 1, payload: one },
        { jobId: '7b21d004-2', state: 'waiting', position: 2, payload: two },
      ],
      { waiting: 2, active: 0 },
      (p) => p,
      30_000,
    ).split('\n');
    expect(lines[1]).toBe('• a cat — txt2img 512x512 ×4, seed 1 · position 1, starts in about 30 s · job 0f3a9c1e');
    expect(lines[2]).toBe('• a cat — txt2img 768x512, seed 2 · position 2, starts in about 1 min 0 s · job 7b21d004');
    expect(lines[1]).not.toBe(lines[2]);
  });
});

describe('queued ETA', () => {
  it('estimates the wait from the position and the measured average job, only while the job waits and once a job was measured', () => {
    expect(queuedEtaMs(3, 12_000)).toBe(36_000);
    expect(queuedEtaMs(0, 12_000)).toBeNull();
    expect(queuedEtaMs(3, null)).toBeNull();
    expect(queuedText(3, 12_000)).toBe('Queued — position 3 · starts in about 36 s');
    expect(queuedText(2, 50_000)).toBe('Queued — position 2 · starts in about 1 min 40 s');
    expect(queuedText(3, null)).toBe('Queued — position 3');
    expect(queuedText(0, 12_000)).toBe('Starting…');
  });
});
