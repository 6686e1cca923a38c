/** Valid job payloads and results for tests, built through the real schemas (so they cannot go stale silently). */
import { JOB_VERSION, jobPayloadSchema, parseJobResult, type JobPayload, type JobResult, type Origin } from '../src/jobs.ts';

export function testOrigin(overrides: Partial<Origin> = {}): Origin {
  return { platform: 'discord', workspaceId: '100000000000000001', channelId: '200000000000000002', userId: '300000000000000003', ...overrides };
}

export function txt2imgPayload(overrides: { origin?: Partial<Origin>; prompt?: string; seed?: number } = {}): JobPayload {
  return jobPayloadSchema.parse({
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: testOrigin(overrides.origin),
    params: {
      prompt: overrides.prompt ?? 'a lighthouse at dusk, oil painting',
      negativePrompt: 'blurry',
      seed: overrides.seed ?? 42,
      steps: 20,
      guidance: 7.5,
      width: 512,
      height: 512,
      n: 4,
      sampler: 'euler_a',
      model: 'tiny',
    },
    createdAt: 1_700_000_000_000,
  });
}

export function testResult(overrides: Partial<JobResult> = {}): JobResult {
  const payload = txt2imgPayload();
  return parseJobResult({
    v: JOB_VERSION,
    resultId: 'res-1',
    jobId: 'job-1',
    kind: 'txt2img',
    params: payload.params,
    origin: payload.origin,
    images: [0, 1].map((i) => ({ artifact: { key: `res-1/${i}.png`, bytes: 1234 + i, contentType: 'image/png' }, seed: 42 + i, width: 512, height: 512 })),
    grid: { key: 'res-1/grid.png', bytes: 4321, contentType: 'image/png' },
    timings: { totalMs: 1500, unetMs: 1200 },
    model: 'tiny',
    sampler: 'euler_a',
    provider: 'cpu',
    createdAt: 1_700_000_000_500,
    ...overrides,
  });
}
