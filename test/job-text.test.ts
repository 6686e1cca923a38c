/** The platform-neutral words about jobs and the queue (commands/job-text.ts, commands/queue-report.ts). */
import { describe, expect, it } from 'vitest';
import { derivedJobText, formatEta, parameterLine, progressText } from '../commands/job-text.ts';
import { describeQueue } from '../commands/queue-report.ts';
import { jobPayloadSchema, JOB_VERSION, type JobPayload } from '../src/jobs.ts';
import { txt2imgPayload } from './support/job-fixtures.ts';

const base = txt2imgPayload();
const derived = (extra: Record<string, unknown>): JobPayload =>
  jobPayloadSchema.parse({ v: JOB_VERSION, origin: base.origin, params: { ...base.params, n: 1 }, createdAt: base.createdAt, parentResultId: 'res-1', ...extra });

describe('job text', () => {
  it('names a derived job, and nothing for a prompt alone', () => {
    const source = { resultId: 'res-1', index: 1, artifactKey: 'res-1/1.png' };
    expect(derivedJobText(derived({ kind: 'variation', mode: 'subtle', source, strength: 0.6 }))).toBe('Subtle variation of image 2');
    expect(derivedJobText(derived({ kind: 'variation', mode: 'strong', source, strength: 0.6 }))).toBe('Strong variation of image 2');
    expect(derivedJobText(derived({ kind: 'upscale', factor: 2, source }))).toBe('Upscaled ×2 (image 2)');
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
    expect(parameterLine(base.params, [1, 2], (m) => m.toUpperCase())).toBe('`seeds 1, 2` · `euler_a` · `20 steps` · `cfg 7.5` · `512x512` · `TINY`');
  });
});

describe('queue report', () => {
  const jobs = [
    { jobId: 'a', state: 'active' as const, position: null, payload: txt2imgPayload({ prompt: 'first' }) },
    { jobId: 'b', state: 'waiting' as const, position: 0, payload: txt2imgPayload({ prompt: 'second' }) },
    { jobId: 'c', state: 'waiting' as const, position: 4, payload: txt2imgPayload({ prompt: 'third' }) },
    { jobId: 'd', state: 'waiting' as const, position: null, payload: txt2imgPayload({ prompt: 'fourth' }) },
  ];

  it('says where each job stands, with an ETA only when the average job time is known', () => {
    expect(describeQueue(jobs, { waiting: 7, active: 2 }, (p) => `<${p}>`)).toBe(
      'Your jobs (4):\n• <first> — txt2img, running now\n• <second> — txt2img, running now\n• <third> — txt2img, position 4\n• <fourth> — txt2img, finishing\nQueue: 7 waiting, 2 running.',
    );
    expect(describeQueue(jobs.slice(2, 3), { waiting: 7, active: 2 }, (p) => p, 10_000)).toBe('Your jobs (1):\n• third — txt2img, position 4, about 40 s\nQueue: 7 waiting, 2 running.');
  });
});
