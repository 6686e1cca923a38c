/**
 * Execution provider selection: where the list comes from, what a host without an
 * accelerator's library does with a request for it (runs on cpu and says so in its own log,
 * without onnxruntime trying the library and printing "Failed to load library …"), and the
 * same for the real process started the way a CPU-only user or a GPU worker image starts it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { availableProviders, cudaProviderPresent, providerAvailable, resolveProviders } from '../../worker/diffusion/providers.ts';
import { loadPipeline } from '../../worker/diffusion/index.ts';
import { modelEnv, startApp, type AppProcess } from '../../kit/app-process.ts';
import { makeTempDir, writeTinyModel } from '../../kit/tiny-sd-models.ts';

const root = makeTempDir('sd-providers');
const appTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'providers-app-'));
const models = modelEnv(appTemp);
const running: AppProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop('SIGKILL')));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(appTemp, { recursive: true, force: true });
});

/** What onnxruntime prints on stderr when it is asked for a provider this host cannot have. */
const ORT_PROVIDER_NOISE = /Failed to load library|providers_shared|removing requested execution provider/;

describe('providers', () => {
  it('come from options, then ORT_PROVIDERS, always ending in cpu', () => {
    expect(resolveProviders(['CUDA'], {})).toEqual(['cuda', 'cpu']);
    expect(resolveProviders(undefined, { ORT_PROVIDERS: ' cpu , cuda ' })).toEqual(['cuda', 'cpu']);
    expect(resolveProviders(undefined, {})).toEqual(cudaProviderPresent() ? ['cuda', 'cpu'] : ['cpu']);
    expect(() => resolveProviders(['gpu'], {})).toThrow(/unknown execution provider "gpu"/);
  });

  it("are available when built in, on their own platform only, or with their library installed", () => {
    expect(providerAvailable('cpu')).toBe(true);
    expect(providerAvailable('dml')).toBe(process.platform === 'win32');
    expect(providerAvailable('coreml')).toBe(process.platform === 'darwin');
    expect(providerAvailable('cuda')).toBe(cudaProviderPresent());
    const { usable, unavailable } = availableProviders(['cuda', 'dml', 'coreml', 'cpu']);
    expect([...usable, ...unavailable].sort()).toEqual(['coreml', 'cpu', 'cuda', 'dml']);
    expect(usable).toContain('cpu');
    expect(usable.every(providerAvailable) && !unavailable.some(providerAvailable)).toBe(true);
  });

  it.skipIf(cudaProviderPresent())('without the CUDA library, asking for cuda runs on cpu, and the pipeline says why', async () => {
    const lines: { level: number; msg: string; providers?: string[]; unavailable?: string[] }[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const p = await loadPipeline(writeTinyModel(root, { name: 'no-cuda' }), { providers: ['cuda', 'cpu'], logger });
    expect(p.providers).toEqual(['cpu']);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.msg)).toEqual(['execution providers not available on this host; running without them']);
    expect(warnings[0].unavailable).toEqual(['cuda']);
    // what actually loaded is logged
    expect(lines.find((l) => l.msg === 'diffusion pipeline loaded')?.providers).toEqual(['cpu']);
    await p.dispose();
  });
});

describe('the process on a CPU-only host', () => {
  async function start(env: Record<string, string>): Promise<AppProcess> {
    const app = await startApp({ ...models, ...env });
    running.push(app);
    return app;
  }

  it('with the default providers: cpu, and nothing from onnxruntime on stderr', async () => {
    const app = await start({});
    expect(app.stdout()).toMatch(/provider: +cpu \(asked for cpu\)\n/);
    expect(app.stderr()).not.toMatch(ORT_PROVIDER_NOISE);
  });

  it.skipIf(cudaProviderPresent())('ORT_PROVIDERS naming accelerators it lacks (as the GPU worker image sets): cpu, one log line, nothing from onnxruntime', async () => {
    const app = await start({ ORT_PROVIDERS: 'cuda,dml,coreml,cpu' });
    expect(app.stderr()).not.toMatch(ORT_PROVIDER_NOISE);
    const out = app.stdout();
    expect(out).toMatch(/provider: +cpu \(asked for cuda,dml,coreml,cpu\)\n/);
    const logged = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; unavailable?: string[] })
      .filter((l) => l.msg === 'execution providers not available on this host; running without them');
    expect(logged.map((l) => l.unavailable)).toEqual([availableProviders(['cuda', 'dml', 'coreml']).unavailable]);
  });
});
