/** The private redis-server helper other integration tests depend on. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisServerAvailable, startRedis } from '../../kit/redis-server.ts';
import { uniquePrefix } from '../../kit/queue-prefix.ts';

const available = redisServerAvailable();
if (!available) console.warn('SKIPPED: redis-server is not installed and REDIS_URL is not set');
const privateServer = available && !process.env.REDIS_URL;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe.skipIf(!privateServer)('private redis-server', () => {
  it('answers on its port, keeps its port across restart, and leaves nothing after stop', async () => {
    const server = await startRedis();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const client = new Redis(server.url, { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: () => 50 });
    client.on('error', () => {});
    await client.connect();
    expect(await client.ping()).toBe('PONG');
    const persistence = await client.config('GET', 'appendonly');
    expect(persistence).toEqual(['appendonly', 'no']);
    const dir = ((await client.config('GET', 'dir')) as string[])[1];
    expect(existsSync(dir)).toBe(true);

    await client.set('k', 'v');
    await server.restart();
    // Without AOF or RDB a restart loses data: the fault tests rely on this being a real restart.
    expect(await client.get('k')).toBeNull();
    expect(await client.ping()).toBe('PONG');

    client.disconnect();
    await server.stop();
    expect(existsSync(dir)).toBe(false);
    expect(await listening(server.port)).toBe(false);
    await server.stop(); // idempotent
  });

  it('keeps data across restart when asked for AOF', async () => {
    const server = await startRedis({ aof: true });
    const client = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
    client.on('error', () => {});
    try {
      await client.set('survives', '1');
      await server.restart({ downMs: 100 });
      expect(await client.get('survives')).toBe('1');
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('does not outlive a test process that is killed with SIGKILL', async () => {
    const code = `import { startRedis } from './kit/redis-server.ts';
const s = await startRedis();
console.log('PORT ' + s.port + ' DIR ' + s.dir + ' END');
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [port, dir] = await new Promise<[number, string]>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /PORT (\d+) DIR (\S+) END/.exec(out);
        if (m) resolve([Number(m[1]), m[2]]);
      });
      child.once('exit', (c) => reject(new Error(`child exited early (${c})`)));
    });
    expect(await listening(port)).toBe(true);
    child.kill('SIGKILL');
    expect(await eventually(async () => !(await listening(port)), 10_000)).toBe(true);
    expect(await eventually(async () => !existsSync(dir), 10_000)).toBe(true);
  });

  it('runs two servers side by side on different ports', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    try {
      expect(a.port).not.toBe(b.port);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('unique queue prefixes', () => {
  it('are hash-tagged, valid for QUEUE_PREFIX and never repeat', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => uniquePrefix('some test')));
    expect(seen.size).toBe(1000);
    for (const p of seen) expect(p).toMatch(/^\{[\w-]+\}$/);
  });
});
