/**
 * The web playground on a real HTTP server (loopback, a free port) over whichever queue and
 * key-value store a test gives it, the way src/root/app.ts wires it; and a browser-like client that
 * keeps one session cookie.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryWebEventHub } from '../../adapters/web/events.ts';
import { startWebAdapter, type WebAdapter } from '../../adapters/web/start.ts';
import { jobPayloadLookup } from '../../commands/bot-services.ts';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { loadConfig, type AppConfig } from '../../src/root/config.ts';
import { createHttpServer, type HttpServerHandle } from '../../src/http-server.ts';
import { resultSchema, type JobPayload, type JobResult } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import { MemoryKeyValueStore } from '../../src/kv-memory.ts';
import { createLogger } from '../../src/logger.ts';
import { createModelCatalog } from '../../src/models.ts';
import { LocalJobQueue } from '../../src/queue/local-queue.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import { ResultStore } from '../../src/results.ts';
import { TINY, wordTokenCounter } from './command-context.ts';

export interface WebServer {
  url: string;
  config: AppConfig;
  queue: JobQueue;
  kv: KeyValueStore;
  results: ResultStore;
  artifacts: FsArtifactStore;
  hub: MemoryWebEventHub;
  http: HttpServerHandle;
  web: WebAdapter;
  /** A queued job's payload (what a worker would be handed). */
  payloadOf(jobId: string): Promise<JobPayload>;
  /** Stores a finished 2-image result for the job's payload, as a worker would, and tells the session's tabs. */
  finish(jobId: string, payload: JobPayload, opts?: { nsfw?: boolean[] }): Promise<JobResult>;
  close(): Promise<void>;
}

export async function startWebServer(opts: { env?: Record<string, string>; queue?: (config: AppConfig, kv: KeyValueStore) => JobQueue; kv?: KeyValueStore } = {}): Promise<WebServer> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...opts.env });
  const kv = opts.kv ?? new MemoryKeyValueStore();
  const queue = opts.queue ? opts.queue(config, kv) : new LocalJobQueue({ config, secrets: kv });
  const results = new ResultStore(kv);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'web-server-'));
  const artifacts = new FsArtifactStore(dir);
  const hub = new MemoryWebEventHub();
  const http = await createHttpServer({ port: 0, host: '127.0.0.1' });
  const logger = createLogger({ level: 'silent' });
  const jobPayload = jobPayloadLookup(queue)!;
  const web = await startWebAdapter({ queue, results, kv, models: createModelCatalog([TINY], 'tiny'), countTokens: wordTokenCounter, logger, jobPayload, config, http, artifacts, hub });
  return {
    url: http.url,
    config,
    queue,
    kv,
    results,
    artifacts,
    hub,
    http,
    web,
    async payloadOf(jobId) {
      const payload = await jobPayload(jobId);
      if (!payload) throw new Error(`no job ${jobId} in the queue`);
      return payload;
    },
    async finish(jobId, payload, { nsfw = [] } = {}) {
      const resultId = `r-${jobId.slice(0, 8)}`;
      const images = [];
      for (let i = 0; i < 2; i++) {
        images.push({ artifact: await artifacts.put(`${resultId}/${i}.png`, Buffer.from(`png ${i} of ${jobId}`), 'image/png'), seed: 7 + i, width: 64, height: 64, ...(nsfw[i] !== undefined ? { nsfw: nsfw[i] } : {}) });
      }
      const result = resultSchema.parse({
        v: 1,
        resultId,
        jobId,
        kind: 'txt2img',
        params: { ...payload.params, n: 2 },
        origin: payload.origin,
        images,
        grid: await artifacts.put(`${resultId}/grid.png`, Buffer.from(`grid of ${jobId}`), 'image/png'),
        timings: { totalMs: 10 },
        model: payload.params.model,
        sampler: payload.params.sampler,
        provider: 'cpu',
        createdAt: Date.now(),
      });
      await results.save(result, 3600);
      await hub.publish({ type: 'result', session: payload.origin.userId, jobId, result });
      return result;
    },
    async close() {
      await web.close();
      await queue.close();
      await http.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A browser: one cookie jar (the session the server hands out on first contact), optional extra headers. */
export class Browser {
  cookie = '';

  constructor(
    private readonly base: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async request(pathname: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
    const res = await fetch(this.base + pathname, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { ...this.headers, ...(this.cookie ? { cookie: this.cookie } : {}), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      redirect: 'manual',
    });
    for (const set of res.headers.getSetCookie()) {
      const pair = set.split(';')[0];
      const name = pair.slice(0, pair.indexOf('='));
      this.cookie = [...this.cookie.split('; ').filter((c) => c && !c.startsWith(`${name}=`)), pair].join('; ');
    }
    return res;
  }

  /** POST /api/command and its JSON reply. */
  async command(text: string, requestId?: string): Promise<Record<string, any>> {
    return (await this.request('/api/command', { body: { text, ...(requestId ? { requestId } : {}) } })).json();
  }

  /** The session id the server gave this browser. */
  get session(): string {
    return /imagine_session=([^;]+)/.exec(this.cookie)?.[1] ?? '';
  }
}
