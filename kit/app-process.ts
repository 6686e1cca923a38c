/**
 * The real process entry (`src/root/main.ts`) as a child process, the way a user starts it:
 * environment only, output captured. PORT defaults to 0 so the OS picks a free port, which
 * the start-up lines then report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from './tiny-sd-models.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Variables a test must not inherit from the machine that runs it (they would change what starts). */
const PRODUCT_ENV = /^(REDIS_URL|REDIS_CLUSTER_NODES|MODEL_DIR|MODELS_CONFIG|DISCORD_|SLACK_|PORT$|HOST$|TRUST_PROXY$|WEB_|ORT_|ARTIFACT_DIR|LOG_LEVEL|QUEUE_|WORKER_|JOB_|LIMIT_|PROGRESS_|RESULT_TTL|MAX_|ALLOWED_|PRESS_POLICY|NSFW_|REDIS_ALLOW)/;

export interface AppProcess {
  child: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** The playground URL from the start-up lines ('' for a worker, or when the playground is off). */
  url: string;
  /** The port its HTTP server listens on. */
  port: number;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function spawnApp(env: Record<string, string>, args: string[] = []): Omit<AppProcess, 'url' | 'port'> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !PRODUCT_ENV.test(k)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/root/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...clean, PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Start the process and wait for its start-up lines. */
export async function startApp(env: Record<string, string>, args: string[] = [], timeoutMs = 90_000): Promise<AppProcess> {
  const app = spawnApp(env, args);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = app.stdout();
    const health = /health: +http:\/\/127\.0\.0\.1:(\d+)\/healthz/.exec(out);
    const playground = /Open the playground: (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    const noPlayground = args.includes('--role=worker') || /playground: off /.test(out);
    if (health && (playground || noPlayground)) return { ...app, url: playground?.[1] ?? '', port: Number(health[1]) };
    if (app.child.exitCode !== null) throw new Error(`the app exited with ${app.child.exitCode} before it started:\n${app.stderr()}${app.stdout()}`);
    if (Date.now() > deadline) {
      await app.stop('SIGKILL');
      throw new Error(`the app did not start within ${timeoutMs} ms:\n${app.stderr()}${app.stdout()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const EMBEDDED_MODEL_BUILT = existsSync(path.join(REPO_ROOT, 'models/tiny/model_index.json'));

/**
 * MODEL_DIR for a test process: nothing when the embedded demo model is built (the default is
 * what users get), else a stand-in written under `dir` with the same size and step defaults,
 * which draws noise but exercises every path.
 */
export function modelEnv(dir: string): Record<string, string> {
  if (EMBEDDED_MODEL_BUILT) return {};
  const modelDir = writeTinyModel(dir, { name: 'tiny', idsDtype: 'int32', timestep: 'int64-batch', scalingFactor: 0.18215, withVaeEncoder: true });
  const indexFile = path.join(modelDir, 'model_index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8'));
  index.imagine = { name: 'tiny', base_size: 64, size_multiple: 32, default_steps: 8, default_sampler: 'euler_a', default_guidance: 5 };
  writeFileSync(indexFile, JSON.stringify(index));
  return { MODEL_DIR: modelDir };
}
