/**
 * A private redis-server for integration tests: a free port, a temporary directory, no
 * persistence unless asked. When REDIS_URL is set the tests use that server instead (then
 * restart() is unavailable and fault tests skip themselves; see `canRestart`).
 *
 * Nothing is left behind: every server is killed when the test process exits, and a tiny
 * watchdog shell kills it even if the test process is killed with SIGKILL (the watchdog
 * notices its stdin closing).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServerOptions {
  /** Append-only persistence, for tests that restart the server and expect data to survive. */
  aof?: boolean;
  /** Extra `redis-server` arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
  /** How long to wait for the first PONG. */
  readyTimeoutMs?: number;
  /** Start a private server even when REDIS_URL names an outside one (a cluster's nodes). */
  private?: boolean;
}

export interface TestRedis {
  url: string;
  port: number;
  /** The server's working directory (absent for an external REDIS_URL). */
  dir?: string;
  /** False when REDIS_URL points at an outside server (restart() then throws). */
  canRestart: boolean;
  /** Stop the server (idempotent). */
  stop(): Promise<void>;
  /** Stop and start again on the same port and directory (simulates a Redis outage). */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** Stop without restarting (e.g. to test behaviour while Redis is down); start() brings it back. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

interface Running {
  server: ChildProcess;
  watchdog: ChildProcess;
}

const live = new Set<Running>();

function killAllNow(): void {
  for (const r of live) {
    try {
      r.server.kill('SIGKILL');
    } catch {
      /* already gone */
    }
    try {
      r.watchdog.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllNow();
      process.kill(process.pid, signal);
    });
  }
}

export function redisServerAvailable(): boolean {
  if (process.env.REDIS_URL) return true;
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** One raw PING over TCP: no client library, so a misconfigured client cannot fake readiness. */
function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      buf += d.toString();
      // A server with requirepass answers NOAUTH: it is up all the same.
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH'));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function launch(port: number, dir: string, opts: RedisServerOptions): Promise<Running> {
  const logFile = path.join(dir, 'redis.log');
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--logfile', logFile,
    '--daemonize', 'no',
    '--protected-mode', 'no',
    '--save', '',
    '--appendonly', opts.aof ? 'yes' : 'no',
    ...(opts.aof ? ['--appendfsync', 'always'] : []),
    '--maxmemory-policy', 'noeviction',
    ...(opts.args ?? []),
  ];
  const server = spawn('redis-server', args, { stdio: 'ignore' });
  const spawnError = new Promise<Error>((resolve) => server.once('error', resolve));
  // The watchdog outlives nothing: when this process dies its stdin closes, `read` returns
  // and it kills the server and removes its directory. On a normal stop (or restart) we kill
  // the watchdog first, so it touches neither.
  const watchdog = spawn('sh', ['-c', 'read _ ; kill -9 "$1" 2>/dev/null; sleep 0.2; rm -rf "$2"', 'watchdog', String(server.pid), dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const running: Running = { server, watchdog };
  live.add(running);
  server.unref();
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    const failed = await Promise.race([spawnError, sleep(0).then(() => null)]);
    if (failed) {
      await stopRunning(running);
      throw new Error(`could not start redis-server: ${failed.message}`);
    }
    if (server.exitCode !== null || server.signalCode !== null) {
      await stopRunning(running);
      throw new Error(`redis-server on port ${port} exited (code ${server.exitCode}); log:\n${tail(logFile)}`);
    }
    if (await ping(port)) return running;
    await sleep(50);
  }
  await stopRunning(running);
  throw new Error(`redis-server on port ${port} did not answer PING in time; log:\n${tail(logFile)}`);
}

async function stopRunning(r: Running): Promise<void> {
  live.delete(r);
  r.watchdog.kill('SIGKILL');
  if (r.server.exitCode === null && r.server.signalCode === null) {
    r.server.kill('SIGKILL');
    await exited(r.server);
  }
}

/** Start a private server (or wrap REDIS_URL). Call stop() in afterAll. */
export async function startRedis(opts: RedisServerOptions = {}): Promise<TestRedis> {
  const external = opts.private ? undefined : process.env.REDIS_URL;
  if (external) {
    const unsupported = async () => {
      throw new Error('restart/kill/start are unavailable with an external REDIS_URL');
    };
    return {
      url: external,
      port: Number(new URL(external).port || 6379),
      canRestart: false,
      stop: async () => {},
      restart: unsupported,
      kill: unsupported,
      start: unsupported,
    };
  }

  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imagine-redis-'));
  let port = 0;
  let current: Running | null = null;
  // The free port can be taken between probing and binding; try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      current = await launch(port, dir, opts);
      break;
    } catch (err) {
      if (attempt >= 4) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  let removed = false;
  const handle: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    canRestart: true,
    async kill() {
      if (current) await stopRunning(current);
      current = null;
    },
    async start() {
      if (removed) throw new Error('this test redis was stopped for good');
      if (!current) current = await launch(port, dir, opts);
    },
    async restart({ downMs = 0 } = {}) {
      await handle.kill();
      if (downMs > 0) await sleep(downMs);
      await handle.start();
    },
    async stop() {
      await handle.kill();
      if (!removed) rmSync(dir, { recursive: true, force: true });
      removed = true;
    },
  };
  return handle;
}
