import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServerHandle } from '../src/http-server.ts';
import { createMetrics } from '../src/metrics.ts';

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
