/**
 * What npm does with the project's own configuration on a fresh clone: it reads `.npmrc` without
 * a warning (npm prints one for every key it does not know, on `npm ci`, `npm start` and `npm
 * test` alike), no dependency install script runs (onnxruntime-node's would download the CUDA
 * provider), and the GPU install command the README gives is the one the worker image runs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.ts';

/** The environment of a fresh shell: without what an outer `npm test` exports to its script. */
function shellEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

const GPU_INSTALL = 'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install';

describe('npm configuration', () => {
  it('is read without warnings and turns off dependency install scripts', () => {
    const run = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: REPO_ROOT, env: shellEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('true');
  });

  it('still runs the scripts it is asked for by name, without warnings', () => {
    // ignore-scripts skips dependencies' install scripts and pre/post hooks, never `npm test` itself
    const run = spawnSync('npm', ['test', '--', '--help'], { cwd: REPO_ROOT, env: shellEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^Usage:\n {2}\$ vitest run/m);
  });

  it('the README gives the GPU install command the worker image runs', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const gpuBlock = /## GPU setup[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(gpuBlock.split('\n')).toContain(GPU_INSTALL);
    const dockerfile = readFileSync(path.join(REPO_ROOT, 'deploy', 'Dockerfile.worker'), 'utf8');
    expect(dockerfile).toContain(`&& ${GPU_INSTALL}`);
  });
});
