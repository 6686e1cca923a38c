/**
 * The one HTTP server of a process (PORT). It owns /healthz, /readyz and /metrics; the parts
 * that run in the process (web playground, Slack's Request URL) mount their own routes on it
 * as plain Node handlers, so no framework sits between the platform SDKs and the socket.
 *
 * Routing is by method and path prefix: the longest matching prefix wins, so `/` can be a
 * catch-all page while `/slack/events` or `/api/` go elsewhere.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpRoute {
  /** An HTTP method, or '*' for any (default '*'). */
  method?: string;
  /** Matches this exact path and everything below it (`/api` matches `/api` and `/api/x`, not `/apix`). */
  prefix: string;
  handler: HttpHandler;
}

/** A readiness check: true when ready, or a short reason why not. */
export type ReadinessCheck = () => Promise<true | string> | true | string;

export interface HttpServerOptions {
  port: number;
  /**
   * The address to listen on. Default loopback (127.0.0.1): only this machine can connect until
   * the operator says otherwise (HOST); containers set 0.0.0.0 so probes and Services reach them.
   */
  host?: string;
  routes?: HttpRoute[];
  metrics?: Metrics;
  readiness?: Record<string, ReadinessCheck>;
  logger?: Logger;
  /** Each readiness check must answer within this (ms). */
  checkTimeoutMs?: number;
}

export interface HttpServerHandle {
  readonly port: number;
  /** The address the socket is bound to, as the OS reports it (e.g. 127.0.0.1, 0.0.0.0, ::). */
  readonly address: string;
  /** http://host:port to reach it from this machine, with 127.0.0.1 for a wildcard host. */
  readonly url: string;
  readonly server: http.Server;
  route(route: HttpRoute): void;
  setReadinessCheck(name: string, check: ReadinessCheck): void;
  removeReadinessCheck(name: string): void;
  close(): Promise<void>;
}

export const DEFAULT_HOST = '127.0.0.1';

/** Whether a bound address accepts connections on every interface (0.0.0.0, ::). */
export function isWildcardAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** An address as the host part of a URL (IPv6 in brackets). */
export function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/' || prefix === '') return true;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || path.startsWith(p + '/');
}

async function withTimeout<T>(p: Promise<T> | T, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve(p),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function createHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const routes: Required<HttpRoute>[] = [];
  const checks = new Map<string, ReadinessCheck>(Object.entries(opts.readiness ?? {}));
  const checkTimeoutMs = opts.checkTimeoutMs ?? 2000;

  const addRoute = (r: HttpRoute) => {
    routes.push({ method: (r.method ?? '*').toUpperCase(), prefix: r.prefix, handler: r.handler });
    // Longest prefix first, so specific mounts shadow catch-alls regardless of mount order.
    routes.sort((a, b) => b.prefix.length - a.prefix.length);
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  addRoute({ method: 'GET', prefix: '/healthz', handler: (_req, res) => sendJson(res, 200, { ok: true }) });
  addRoute({
    method: 'GET',
    prefix: '/readyz',
    handler: async (_req, res) => {
      const results: Record<string, true | string> = {};
      await Promise.all(
        [...checks].map(async ([name, check]) => {
          try {
            results[name] = await withTimeout(check(), checkTimeoutMs, name);
          } catch (err) {
            results[name] = (err as Error).message;
          }
        }),
      );
      const ready = Object.values(results).every((r) => r === true);
      sendJson(res, ready ? 200 : 503, { ready, checks: results });
    },
  });
  if (opts.metrics) {
    const metrics = opts.metrics;
    addRoute({
      method: 'GET',
      prefix: '/metrics',
      handler: async (_req, res) => {
        const body = await metrics.render();
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(body);
      },
    });
  }
  for (const r of opts.routes ?? []) addRoute(r);

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const candidates = routes.filter((r) => prefixMatches(r.prefix, path));
    const route = candidates.find((r) => r.method === '*' || r.method === method || (method === 'HEAD' && r.method === 'GET'));
    if (!route) {
      if (candidates.length > 0) {
        res.writeHead(405, { allow: [...new Set(candidates.map((r) => r.method))].join(', ') });
        res.end();
      } else {
        sendJson(res, 404, { error: 'not found' });
      }
      return;
    }
    Promise.resolve()
      .then(() => route.handler(req, res))
      .catch((err: unknown) => {
        opts.logger?.error({ err, path, method }, 'http handler failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
  });
  // Slack and load balancers keep connections open; do not let them hold close() for minutes.
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? DEFAULT_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  return {
    port: address.port,
    address: address.address,
    url: `http://${hostForUrl(isWildcardAddress(address.address) ? '127.0.0.1' : address.address)}:${address.port}`,
    server,
    route: addRoute,
    setReadinessCheck: (name, check) => void checks.set(name, check),
    removeReadinessCheck: (name) => void checks.delete(name),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
