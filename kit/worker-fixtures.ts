/**
 * Shared pieces of the worker tests: job payloads, a tiny real model folder and catalog,
 * polling helpers, and a pipeline loader that can be told to crash its process.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JOB_VERSION, type JobPayload } from '../src/jobs.ts';
import { createModelCatalog, type ModelCatalog, type ModelInfo } from '../src/models.ts';
import { loadPipeline } from '../worker/diffusion/index.ts';
import type { WorkerPipeline } from '../worker/job-runner.ts';
import { writeTinyModel, type TinyModelVariant } from './tiny-sd-models.ts';

export const TEST_USER = 'u-100';

export function txt2imgPayload(params: Partial<JobPayload['params']> = {}, origin: Partial<JobPayload['origin']> = {}): JobPayload {
  return {
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: { platform: 'discord', channelId: 'c-1', userId: TEST_USER, ...origin },
    params: { prompt: 'a cat', negativePrompt: '', seed: 42, steps: 4, guidance: 7, width: 64, height: 64, n: 1, sampler: 'euler', model: 'tiny', ...params },
    createdAt: Date.now(),
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/**
 * The worker's limits (src/job-limits.ts) for the worker tests: slow jobs (hundreds of steps
 * at up to 1024x1024 on the tiny model) are how they catch a job mid-run, so the tiny model is
 * catalogued with a 1024 px budget and MAX_STEPS is raised to the schema's 500.
 */
export const SLOW_JOB_LIMITS = { MAX_STEPS: '500' } as const;

/** The catalog entry of a tiny test model folder (see SLOW_JOB_LIMITS for its size budget). */
export function tinyModelInfo(dir: string): ModelInfo {
  return { name: 'tiny', dir, defaultSteps: 4, defaultSampler: 'euler', defaultGuidance: 7, baseSize: 1024, sizeMultiple: 8, maxTokens: 75 };
}

/** A real (tiny) SD folder in the export layout, named `tiny` in a one-model catalog. */
export function tinyModel(parent = tempDir('worker-model'), extra: Partial<TinyModelVariant> = {}): { dir: string; info: ModelInfo; catalog: ModelCatalog } {
  const dir = writeTinyModel(parent, { name: 'tiny', idsDtype: 'int32', timestep: 'int64-batch', scalingFactor: 0.18215, ...extra });
  const info = tinyModelInfo(dir);
  return { dir, info, catalog: createModelCatalog([info]) };
}

export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CrashingLoaderOptions {
  /** A job whose prompt contains this kills its process (SIGKILL) at step `atStep`. */
  crashPrompt?: string;
  atStep?: number;
}

/** The real pipeline loader, optionally wrapped so chosen prompts crash the process mid-job. */
export function pipelineLoader(opts: CrashingLoaderOptions = {}) {
  return async (model: ModelInfo): Promise<WorkerPipeline> => {
    const real = await loadPipeline(model.dir, { providers: ['cpu'], intraOpThreads: 1 });
    if (!opts.crashPrompt) return real;
    const marker = opts.crashPrompt;
    const atStep = opts.atStep ?? 2;
    return {
      providers: real.providers,
      editsOnly: real.editsOnly,
      upscale: (req, o) => real.upscale(req, o),
      dispose: () => real.dispose(),
      decodeEach: (reqs, o) =>
        real.decodeEach(
          reqs,
          o.map((each, i) => ({
            ...each,
            onProgress: (p) => {
              each.onProgress?.(p);
              if (reqs[i].prompt.includes(marker) && p.step >= atStep) process.kill(process.pid, 'SIGKILL');
            },
          })),
        ),
    };
  };
}
