/**
 * Which onnxruntime execution providers to ask for. The CPU build of onnxruntime-node
 * ships no CUDA provider library; asking for CUDA there fails at session creation, after
 * onnxruntime has printed "Failed to load library …" on stderr (and DirectML or CoreML off
 * their platform are dropped with a printed notice). So the default only asks for CUDA when
 * its library sits beside the native binding, and a provider asked for by name that this
 * host cannot have is left out, with a log line, before any session is created.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const KNOWN = new Set(['cpu', 'cuda', 'tensorrt', 'dml', 'coreml', 'webgpu']);

/** Providers that onnxruntime-node loads from a library of their own (fetched by its installer on GPU hosts). */
const SEPARATE_LIBRARY = new Set(['cuda', 'tensorrt']);

/** Providers built into onnxruntime-node on one platform only. */
const PLATFORM_ONLY: Record<string, NodeJS.Platform> = { dml: 'win32', coreml: 'darwin' };

export function bindingDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** False for a provider this host cannot have: another platform's, or one whose library is not installed. */
export function providerAvailable(provider: string): boolean {
  const platform = PLATFORM_ONLY[provider];
  if (platform) return process.platform === platform;
  if (!SEPARATE_LIBRARY.has(provider)) return true;
  const lib = process.platform === 'win32' ? `onnxruntime_providers_${provider}.dll` : `libonnxruntime_providers_${provider}.so`;
  return fs.existsSync(path.join(bindingDir(), lib));
}

export function cudaProviderPresent(): boolean {
  return providerAvailable('cuda');
}

/** A resolved provider list split into what onnxruntime can be asked for here and what not. */
export function availableProviders(providers: string[]): { usable: string[]; unavailable: string[] } {
  return { usable: providers.filter(providerAvailable), unavailable: providers.filter((p) => !providerAvailable(p)) };
}

/**
 * Provider list in priority order, always ending in cpu (ORT's fallback for nodes the
 * accelerator cannot run). Source: explicit option, else ORT_PROVIDERS, else the default.
 */
export function resolveProviders(requested?: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env.ORT_PROVIDERS?.trim() ? env.ORT_PROVIDERS.split(',') : undefined;
  const list = (requested ?? fromEnv ?? (cudaProviderPresent() ? ['cuda'] : ['cpu']))
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '');
  for (const p of list) {
    if (!KNOWN.has(p)) {
      throw new Error(`unknown execution provider ${JSON.stringify(p)} (from ${requested ? 'options' : 'ORT_PROVIDERS'}); known: ${[...KNOWN].join(', ')}`);
    }
  }
  const unique = [...new Set(list)].filter((p) => p !== 'cpu');
  return [...unique, 'cpu'];
}
