import net from 'node:net';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/root/config.ts';
import { createHttpServer, type HttpServerHandle } from '../../src/http-server.ts';
import { createMetrics } from '../../src/metrics.ts';
import { summaryLines } from '../../src/root/startup-summary.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { createLogger } from '../../src/logger.ts';
import { LocalJobQueue } from '../../src/queue/local-queue.ts';
import { startWorker, type WorkerHandle } from '../../worker/main.ts';
import { tempDir, tinyModel } from '../../kit/worker-fixtures.ts';

let server: HttpServerHandle | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('createHttpServer', () => {
  it('serves /healthz, /readyz from its checks, and /metrics from the registry', async () => {
    const metrics = createMetrics({ queueCounts: async () => ({ waiting: 3, active: 1, completed: 7, failed: 2, delayed: 0 }) });
    metrics.jobsCompleted.inc({ kind: 'txt2img' }, 5);
    metrics.batchSize.observe(4);
    let modelLoaded: true | string = 'model not loaded';
    server = await createHttpServer({ port: 0, host: '127.0.0.1', metrics, readiness: { redis: () => true, model: () => modelLoaded } });

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, checks: { redis: true, model: 'model not loaded' } });
    modelLoaded = true;
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { redis: true, model: true } });

    const scrape = await (await fetch(`${server.url}/metrics`)).text();
    expect(scrape).toContain('imagine_queue_jobs{state="waiting"} 3');
    expect(scrape).toContain('imagine_queue_jobs{state="failed"} 2');
    expect(scrape).toContain('imagine_jobs_completed_total{kind="txt2img"} 5');
    expect(scrape).toContain('imagine_batch_jobs_bucket{le="4"} 1');
    expect(scrape).toMatch(/imagine_process_rss_bytes [1-9]\d+/);
  });

  it('a check that throws or hangs makes the process not ready, with the reason', async () => {
    server = await createHttpServer({
      port: 0,
      host: '127.0.0.1',
      checkTimeoutMs: 100,
      readiness: { redis: async () => { throw new Error('ECONNREFUSED'); }, slow: () => new Promise<true>(() => {}) },
    });
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ready: false, checks: { redis: 'ECONNREFUSED', slow: 'slow did not answer within 100 ms' } });
    server.removeReadinessCheck('slow');
    server.setReadinessCheck('redis', () => true);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('routes by method and longest path prefix, mounted before or after start', async () => {
    server = await createHttpServer({
      port: 0,
      host: '127.0.0.1',
      routes: [{ prefix: '/', handler: (_req, res) => void res.end('page') }],
    });
    server.route({ method: 'POST', prefix: '/slack/events', handler: (req, res) => void res.end(`slack ${req.url}`) });
    server.route({ prefix: '/api', handler: async (req, res) => void res.end(`api ${req.method} ${req.url}`) });

    expect(await (await fetch(`${server.url}/`)).text()).toBe('page');
    expect(await (await fetch(`${server.url}/gallery/x`)).text()).toBe('page');
    expect(await (await fetch(`${server.url}/slack/events?x=1`, { method: 'POST' })).text()).toBe('slack /slack/events?x=1');
    expect(await (await fetch(`${server.url}/api/jobs/7`, { method: 'DELETE' })).text()).toBe('api DELETE /api/jobs/7');
    // `/apix` is not under `/api`: the catch-all answers.
    expect(await (await fetch(`${server.url}/apix`)).text()).toBe('page');
    // A GET on the POST-only Slack route falls through to the next matching prefix (the catch-all).
    expect(await (await fetch(`${server.url}/slack/events`)).text()).toBe('page');
  });

  it('answers 404 for unknown paths, 405 for a known path with the wrong method, 500 when a handler throws', async () => {
    server = await createHttpServer({
      port: 0,
      host: '127.0.0.1',
      routes: [{ method: 'GET', prefix: '/boom', handler: () => { throw new Error('kaput'); } }],
    });
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    const wrong = await fetch(`${server.url}/healthz`, { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    const boom = await fetch(`${server.url}/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: 'internal error' });
    // No metrics registry given -> no /metrics route.
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  });
});

/** An address of this machine that is not loopback, if it has one (to knock on from "outside"). */
function externalIPv4(): string | null {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

/** Whether a TCP connection to host:port is accepted. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

describe('listening address', () => {
  it('with no host given it listens on loopback only, and says so', async () => {
    server = await createHttpServer({ port: 0 });
    expect(server.address).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(await connects('127.0.0.1', server.port)).toBe(true);
    const outside = externalIPv4();
    if (outside) expect(await connects(outside, server.port)).toBe(false);
  });

  it('host 0.0.0.0 accepts other interfaces, and its URL for this machine is still loopback', async () => {
    server = await createHttpServer({ port: 0, host: '0.0.0.0' });
    expect(server.address).toBe('0.0.0.0');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const outside = externalIPv4();
    if (outside) expect(await connects(outside, server.port)).toBe(true);
  });

  it('the configuration defaults HOST to loopback and refuses a value that is not an address', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(() => loadConfig({ HOST: 'http://0.0.0.0' })).toThrow('Invalid configuration: HOST must be an address to listen on, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)');
  });

  it('the start-up lines print the address really bound, not a made-up localhost', () => {
    const base = { role: 'all' as const, adapters: ['web playground'], queue: 'in-process (no REDIS_URL)', models: [], providersRequested: null, providerInUse: null, playgroundNeedsKey: false, playgroundOff: null, warnings: [] };
    const loopback = summaryLines({ ...base, playgroundUrl: 'http://127.0.0.1:3000', port: 3000, listenAddress: '127.0.0.1', localUrl: 'http://127.0.0.1:3000' });
    expect(loopback).toContain('  listening: 127.0.0.1:3000 (this machine only; set HOST=0.0.0.0 to accept other machines)');
    expect(loopback).toContain('  health:    http://127.0.0.1:3000/healthz, /readyz, /metrics');
    const open = summaryLines({ ...base, playgroundUrl: 'http://127.0.0.1:8080', port: 8080, listenAddress: '0.0.0.0', localUrl: 'http://127.0.0.1:8080' });
    expect(open).toContain('  listening: 0.0.0.0:8080 (every interface: other machines can connect)');
    const v6 = summaryLines({ ...base, playgroundUrl: null, port: 81, listenAddress: '::', localUrl: 'http://127.0.0.1:81' });
    expect(v6).toContain('  listening: [::]:81 (every interface: other machines can connect)');
    expect(summaryLines({ ...base, playgroundUrl: null, port: 81, listenAddress: '::', localUrl: 'http://127.0.0.1:81', playgroundOff: 'WEB_PLAYGROUND=off' })).toContain('  playground: off (WEB_PLAYGROUND=off)');
    expect(summaryLines({ ...base, playgroundUrl: 'http://127.0.0.1:3000', port: 3000, listenAddress: '127.0.0.1', localUrl: 'http://127.0.0.1:3000', playgroundNeedsKey: true })).toContain('  Open the playground: http://127.0.0.1:3000/?key=<WEB_ACCESS_KEY>');
  });
});

describe("the worker role's own HTTP server", () => {
  const workerOn = async (env: Record<string, string>): Promise<WorkerHandle> => {
    const config = loadConfig({ LOG_LEVEL: 'silent', PORT: '0', ARTIFACT_DIR: tempDir('worker-http'), ...env });
    const kv = new MemoryKeyValueStore();
    const neverLoaded = async (): Promise<never> => {
      throw new Error('no model in this test');
    };
    return startWorker(config, { deliverers: [], logger: createLogger({ level: 'silent' }), catalog: tinyModel().catalog, loadPipeline: neverLoaded, preload: false, kv, localQueue: new LocalJobQueue({ config, secrets: kv }) });
  };

  it('listens on HOST: loopback by default, every interface when HOST says so', async () => {
    const local = await workerOn({});
    try {
      expect(local.http!.address).toBe('127.0.0.1');
      expect((await fetch(`${local.http!.url}/healthz`)).status).toBe(200);
    } finally {
      await local.close();
    }
    const open = await workerOn({ HOST: '0.0.0.0' });
    try {
      expect(open.http!.address).toBe('0.0.0.0');
      expect((await fetch(`${open.http!.url}/metrics`)).status).toBe(200);
      const outside = externalIPv4();
      if (outside) expect(await connects(outside, open.http!.port)).toBe(true);
    } finally {
      await open.close();
    }
  });
});
