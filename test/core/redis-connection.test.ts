/** The connection factory: role options, password-free error logs, and surviving a Redis restart. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { BullmqJobQueue } from '../../src/queue/bullmq-queue.ts';
import { loadConfig } from '../../src/root/config.ts';
import { closeRedis, clusterOptions, createRedis, describeRedisTarget, isCluster, reconnectDelayMs, redactRedisUrl, redisFromConfig, redisOptions, usesRedis } from '../../src/redis.ts';
import { txt2imgPayload } from '../../kit/job-fixtures.ts';
import { testConfig } from '../../kit/queue-prefix.ts';
import { freePort, redisServerAvailable, startRedis } from '../../kit/redis-server.ts';

const privateServer = redisServerAvailable() && !process.env.REDIS_URL;
if (!privateServer) console.warn('SKIPPED: Redis fault tests need a private redis-server (REDIS_URL is set or redis-server is missing)');

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().trim().split('\n'));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('connection options', () => {
  it('workers retry commands forever without a command timeout; clients fail a command in bounded time', () => {
    expect(redisOptions({ role: 'worker' })).toMatchObject({ maxRetriesPerRequest: null, commandTimeout: undefined, connectTimeout: 10_000 });
    expect(redisOptions({ role: 'subscriber' }).maxRetriesPerRequest).toBeNull();
    expect(redisOptions({ role: 'client', commandTimeoutMs: 2_500 })).toMatchObject({ maxRetriesPerRequest: 3, commandTimeout: 2_500 });
  });

  it('backs off exponentially to a 5 s cap, with jitter', () => {
    for (const [attempt, base] of [[1, 100], [2, 200], [4, 800], [10, 5_000], [1000, 5_000]]) {
      const d = reconnectDelayMs(attempt);
      expect(d).toBeGreaterThanOrEqual(base * 0.8);
      expect(d).toBeLessThanOrEqual(base * 1.2);
    }
  });

  it('REDIS_CLUSTER_NODES: seed nodes parsed, the cluster client chosen, REDIS_URL lending only credentials and TLS', async () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'redis-0:6379, 10.0.0.7:7001,[::1]:7002', REDIS_URL: 'rediss://imagine:p%40ss@ignored-host:1234/3' });
    expect(config.REDIS_CLUSTER_NODES).toEqual([{ host: 'redis-0', port: 6379 }, { host: '10.0.0.7', port: 7001 }, { host: '::1', port: 7002 }]);
    expect(usesRedis(config)).toBe(true);
    expect(usesRedis(loadConfig({}))).toBe(false);
    expect(describeRedisTarget(config)).toBe('cluster redis-0:6379,10.0.0.7:7001,::1:7002');

    const worker = clusterOptions(config, { role: 'worker', name: 'w' });
    expect(worker.redisOptions).toMatchObject({ username: 'imagine', password: 'p@ss', tls: {}, maxRetriesPerRequest: null, commandTimeout: undefined, connectionName: 'imagine:w' });
    expect(worker.redisOptions).not.toHaveProperty('host');
    expect(worker.redisOptions).not.toHaveProperty('db');
    expect(worker.scaleReads).toBe('master');
    expect(worker.dnsLookup).toBeTypeOf('function');
    // A worker's command retries through a failover (every retry counts as a redirection, 200 ms apart): two minutes, not ioredis's ~3 s.
    expect(worker.maxRedirections! * worker.retryDelayOnFailover!).toBe(120_000);
    expect(worker.retryDelayOnClusterDown).toBe(worker.retryDelayOnFailover);
    const plain = clusterOptions(loadConfig({ REDIS_CLUSTER_NODES: 'a:1' }), { role: 'client', commandTimeoutMs: 2_500 });
    expect(plain.redisOptions).toMatchObject({ maxRetriesPerRequest: 3, commandTimeout: 2_500 });
    expect(plain.redisOptions).not.toHaveProperty('password');
    expect(plain.redisOptions).not.toHaveProperty('tls');
    expect(plain.dnsLookup).toBeUndefined();
    expect(plain.maxRedirections).toBe(16);

    const client = redisFromConfig(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:1' }), { logger: createLogger({ level: 'silent' }) });
    expect(isCluster(client)).toBe(true);
    client.disconnect();
  });

  it('a client-role cluster command fails in bounded time while no node answers; a worker-role one waits', async () => {
    const port = await freePort();
    const config = loadConfig({ REDIS_CLUSTER_NODES: `127.0.0.1:${port}` });
    const logger = createLogger({ level: 'silent' });
    const client = redisFromConfig(config, { role: 'client', commandTimeoutMs: 300, logger });
    const worker = redisFromConfig(config, { role: 'worker', logger });
    try {
      await expect(client.get('{imagine}:x')).rejects.toThrow('Command timed out');
      const waiting = worker.get('{imagine}:x').then(() => 'answered', () => 'failed');
      expect(await Promise.race([waiting, new Promise((r) => setTimeout(() => r('still waiting'), 600))])).toBe('still waiting');
    } finally {
      client.disconnect();
      worker.disconnect();
    }
  });

  it('REDIS_CLUSTER_NODES: a bad node list or a prefix without a hash tag is refused, naming the variable', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis-0' })).toThrow('Invalid configuration: REDIS_CLUSTER_NODES must be a comma list of host:port seed nodes, e.g. redis-0:6379,redis-1:6379');
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis-0:70000' })).toThrow('REDIS_CLUSTER_NODES must be a comma list of host:port seed nodes (ports 1 to 65535)');
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis-0:6379', QUEUE_PREFIX: 'imagine' })).toThrow(
      'Invalid configuration: QUEUE_PREFIX must be a hash-tagged prefix such as {imagine} with REDIS_CLUSTER_NODES',
    );
    expect(loadConfig({ QUEUE_PREFIX: 'imagine' }).QUEUE_PREFIX).toBe('imagine');
  });

  it('redacts credentials in URLs', () => {
    expect(redactRedisUrl('redis://:hunter2@redis:6379/0')).toBe('redis://[credentials]@redis:6379/0');
    expect(redactRedisUrl('rediss://default:p%40ss@host:6380')).toBe('rediss://[credentials]@host:6380');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('connection errors', () => {
  it('are logged once with context and without the password while reconnecting', async () => {
    const { lines, logger } = capture();
    const port = await freePort();
    const client = createRedis(`redis://someone:pw-Zq81xVv0@127.0.0.1:${port}`, { name: 'probe', logger, connectTimeoutMs: 500 });
    await until(() => lines.length > 0);
    await new Promise((r) => setTimeout(r, 800)); // several reconnect attempts
    client.disconnect();
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ msg: 'redis connection error', redis: `redis://[credentials]@127.0.0.1:${port}`, role: 'client', connection: 'probe' });
    expect(entry.err.code).toBe('ECONNREFUSED');
    expect(lines.join('\n')).not.toContain('pw-Zq81xVv0');
  });
});

describe.skipIf(!privateServer)('against a real server', () => {
  it('authenticates with a password from the URL', async () => {
    const server = await startRedis({ args: ['--requirepass', 'pw-Zq81xVv0'] });
    const client = createRedis(`redis://:pw-Zq81xVv0@127.0.0.1:${server.port}`, { logger: capture().logger });
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      await closeRedis(client);
      await server.stop();
    }
  });

  it('a queue keeps working after Redis restarts (reconnect, scripts reloaded) and logs the outage', async () => {
    const server = await startRedis();
    const { lines, logger } = capture();
    const config = testConfig(server.url, {}, 'restart');
    const redis = createRedis(server.url, { name: 'queue', logger });
    const q = new BullmqJobQueue({ config, redis, logger });
    try {
      expect(await q.enqueue(txt2imgPayload())).toMatchObject({ ok: true, position: 1 });
      await server.restart({ downMs: 300 });
      // The data is gone (no persistence) and so is the server's script cache.
      const again = await q.enqueue(txt2imgPayload());
      expect(again).toMatchObject({ ok: true, position: 1 });
      expect(lines.some((l) => l.includes('redis connection error'))).toBe(true);
      expect(lines.some((l) => l.includes('redis connection restored'))).toBe(true);
    } finally {
      await q.close();
      await closeRedis(redis);
      await server.stop();
    }
  });

  it('closeRedis returns promptly when the server is gone', async () => {
    const server = await startRedis();
    const client = createRedis(server.url, { logger: capture().logger });
    await client.ping();
    await server.stop();
    const started = Date.now();
    await closeRedis(client, 500);
    expect(Date.now() - started).toBeLessThan(1_500);
    // No reconnect attempts afterwards (ioredis may still report 'reconnecting', but its timer is gone).
    let attempts = 0;
    client.on('connecting', () => attempts++);
    client.on('reconnecting', () => attempts++);
    await new Promise((r) => setTimeout(r, 700));
    expect(attempts).toBe(0);
  });
});
