/**
 * Which onnxruntime execution providers to ask for. The CPU build of onnxruntime-node
 * ships no CUDA provider library; asking for CUDA there fails at session creation, so
 * the default only asks for it when the library sits beside the native binding.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const KNOWN = new Set(['cpu', 'cuda', 'tensorrt', 'dml', 'coreml', 'webgpu']);

export function bindingDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

export function cudaProviderPresent(): boolean {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return fs.existsSync(path.join(bindingDir(), lib));
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
