/**
 * An SDXL model folder through the real worker in one-process mode (in-process queue,
 * memory store, filesystem artifacts): the same job kinds users trigger from chat,
 * txt2img with a negative prompt and a batch, 🔄 (a new seed), V (strong variation),
 * Vary (Subtle) and U (the hires fix), each delivered with SDXL-made images.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { loadConfig } from '../../src/root/config.ts';
import { JOB_VERSION, type JobPayload } from '../../src/jobs.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { createLogger } from '../../src/logger.ts';
import { createModelCatalog, PROMPT_TOKEN_LIMIT, readModelFolderDefaults } from '../../src/models.ts';
import { LocalJobQueue } from '../../src/queue/local-queue.ts';
import { ResultStore } from '../../src/results.ts';
import { readPngParameters } from '../../worker/diffusion/images.ts';
import { startWorker } from '../../worker/main.ts';
import { RecordingDeliverer, type DeliveryEvent } from '../support/recording-deliverer.ts';
import { writeTinyXlModel } from '../../kit/tiny-sdxl-models.ts';
import { pipelineLoader, tempDir, txt2imgPayload, waitFor } from '../../kit/worker-fixtures.ts';

const silent = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('an SDXL model through the worker (one-process mode)', () => {
  it('txt2img with --no and n = 2, 🔄, V, Vary (Subtle) and U are delivered, each an SDXL image', async () => {
    const artifactDir = tempDir('worker-xl');
    // The worker holds jobs to the model's size rule, so the folder declares the small sizes this test uses.
    const dir = writeTinyXlModel(tempDir('worker-xl-model'), { name: 'tiny-xl', imagine: { base_size: 64, size_multiple: 16 } });
    const { name: _declared, ...defaults } = readModelFolderDefaults(dir);
    const catalog = createModelCatalog([{ name: 'tiny-xl', dir, ...defaults, maxTokens: PROMPT_TOKEN_LIMIT }]);
    const config = loadConfig({ LOG_LEVEL: 'silent', ARTIFACT_DIR: artifactDir, LIMIT_USER_QUEUED: '100' });
    const kv = new MemoryKeyValueStore();
    const queue = new LocalJobQueue({ config, secrets: kv });
    const deliverer = new RecordingDeliverer();
    const worker = await startWorker(config, { deliverers: [deliverer], logger: silent, catalog, loadPipeline: pipelineLoader(), http: false, kv, localQueue: queue });
    const results = new ResultStore(kv);
    const store = new FsArtifactStore(artifactDir);
    const run = async (payload: JobPayload) => {
      const out = await queue.enqueue(payload);
      if (!out.ok) throw new Error(out.message);
      return (await waitFor(`result of ${out.jobId}`, () => deliverer.events.find((e) => e.type === 'result' && e.jobId === out.jobId))) as Extract<DeliveryEvent, { type: 'result' }>;
    };
    try {
      const params = { model: 'tiny-xl', negativePrompt: 'dog', n: 2, seed: 3, width: 64, height: 48, steps: 4, sampler: 'euler_a' as const, guidance: 5 };
      const first = await run(txt2imgPayload(params));
      expect(first.seeds).toEqual([3, 4]);
      const source = (await results.get(first.resultId))!;
      const png = await store.get(source.images[1].artifact.key);
      expect(readPngParameters(png!)).toMatchObject({ negativePrompt: 'dog', seed: 4, width: 64, height: 48, model: 'tiny-xl', sampler: 'euler_a' });

      const reseed = await run(txt2imgPayload({ ...params, seed: 50 }));
      expect(reseed.seeds).toEqual([50, 51]);

      const base = { v: JOB_VERSION, origin: source.origin, createdAt: Date.now(), parentResultId: source.resultId, source: { resultId: source.resultId, index: 1 } };
      const strong = await run({ ...base, kind: 'variation', mode: 'strong', strength: 0.6, params: { ...source.params, n: 1, seed: 99, steps: 6 } } as JobPayload);
      const subtle = await run({ ...base, kind: 'variation', mode: 'subtle', strength: 1, blendSeed: 5, blendAmount: 0.25, params: { ...source.params, n: 1, seed: 4 } } as JobPayload);
      const up = await run({ ...base, kind: 'upscale', factor: 2, params: { ...source.params, n: 1, seed: 4, steps: 6 } } as JobPayload);
      expect([strong.seeds, subtle.seeds]).toEqual([[99], [4]]);
      const blended = await store.get((await results.get(subtle.resultId))!.images[0].artifact.key);
      expect(blended!.equals(png!)).toBe(false);
      const upscaled = (await results.get(up.resultId))!;
      expect(upscaled.images[0]).toMatchObject({ width: 128, height: 96 });
      const upPng = await store.get(upscaled.images[0].artifact.key);
      expect(await sharp(upPng!).metadata()).toMatchObject({ width: 128, height: 96 });
      expect(deliverer.events.filter((e) => e.type === 'failure')).toEqual([]);
    } finally {
      await worker.close();
      await queue.close();
      await fs.rm(artifactDir, { recursive: true, force: true });
      await fs.rm(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
