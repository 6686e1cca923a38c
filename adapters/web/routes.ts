/**
 * The playground's HTTP surface, mounted on the process's one HTTP server:
 *   GET  /                          the page (static files from ./public, no build step)
 *   GET  /static/<file>             its script and style sheet
 *   POST /api/command {text, requestId}   what was typed      -> WebReply
 *   POST /api/press   {id, requestId}     a button            -> WebReply
 *   GET  /api/events                server-sent events (live.ts)
 *   GET  /api/gallery               the session's recent results
 *   GET  /api/info                  models and limits, for the page's hints
 *   GET  /api/images/<result>/<i|grid>.png   a result's image, to the session that made it only
 * POSTs must be JSON: a cross-site form cannot send that without a CORS preflight, which
 * this server never grants, and the session cookie is SameSite=Strict besides.
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { HttpRoute } from '../../src/http-server.ts';
import type { Logger } from '../../src/logger.ts';
import type { ModelCatalog } from '../../src/models.ts';
import type { ResultStore } from '../../src/results.ts';
import type { CommandLimits } from '../../commands/context.ts';
import { MAX_FORM_TEXT } from '../../commands/edit-forms.ts';
import type { AccessGate } from './access.ts';
import { clientAddress } from './client-address.ts';
import type { Gallery } from './gallery.ts';
import type { WebIdentity } from './identity.ts';
import type { WebCaller, WebInbound, WebReply } from './inbound.ts';
import type { LiveUpdates } from './live.ts';
import { MaskError, MAX_MASK_BYTES, maskBytes } from './region-mask.ts';
import { ensureSession } from './session.ts';
import { IMAGE_ROUTE, isWithheld, resultView, type FlaggedImagePolicy } from './view.ts';

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
const MAX_BODY_BYTES = 16 * 1024;
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface WebRouteDeps {
  inbound: WebInbound;
  live: LiveUpdates;
  gallery: Gallery;
  results: ResultStore;
  artifacts: ArtifactStore;
  models: ModelCatalog;
  limits: CommandLimits;
  identity: WebIdentity;
  /** WEB_ACCESS_KEY: every route below is behind it when it is set. */
  access: AccessGate;
  /** TRUST_PROXY: reverse proxies in front, whose X-Forwarded-For entries name the client. */
  trustedProxies: number;
  flagged: FlaggedImagePolicy;
  logger: Logger;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function readJson(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send JSON (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, 'request too large');
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'the body is not a JSON object');
  }
}

export const text = (v: unknown, max: number): string | undefined => (typeof v === 'string' ? v.slice(0, max) : undefined);

/** The static files, read once: the page is a handful of small files. */
function loadStatic(): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(PUBLIC_DIR)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (type) files.set(name, { body: readFileSync(path.join(PUBLIC_DIR, name)), type });
  }
  return files;
}

/** A region request's body: the mask as base64 (4/3 of its bytes) and a little JSON around it. */
export const REGION_BODY_BYTES = Math.ceil((MAX_MASK_BYTES * 4) / 3) + MAX_BODY_BYTES;

/** A mask that fails its checks is the user's to fix: answered as a message, like any refusal. */
export async function regionReply(run: () => Promise<WebReply>): Promise<WebReply> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof MaskError) return { kind: 'message', code: 'bad-mask', message: err.message };
    throw err;
  }
}

export function webRoutes(deps: WebRouteDeps): HttpRoute[] {
  const files = loadStatic();
  const serveFile = (req: IncomingMessage, res: ServerResponse, name: string) => {
    if (!deps.access.admitApi(req, res)) return;
    const file = files.get(name);
    if (!file) return sendJson(res, 404, { error: 'not found' });
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.end(file.body);
  };

  /** Past this point a request is known by its user id only; the session id itself goes no further. */
  const api = (handler: (req: IncomingMessage, res: ServerResponse, caller: WebCaller) => Promise<void>) => async (req: IncomingMessage, res: ServerResponse) => {
    if (!deps.access.admitApi(req, res)) return;
    const caller: WebCaller = {
      userId: deps.identity.userId(ensureSession(req, res)),
      clientKey: deps.identity.clientKey(clientAddress(req, deps.trustedProxies)),
    };
    try {
      await handler(req, res, caller);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
      throw err;
    }
  };

  /** A POST of one required field (typed text, a button id), answered with what the inbound side replies. */
  const inboundPost = (prefix: string, field: 'text' | 'id', maxLength: number, call: (caller: WebCaller, value: string, requestId?: string) => Promise<WebReply>): HttpRoute => ({
    method: 'POST',
    prefix,
    handler: api(async (req, res, caller) => {
      const body = await readJson(req);
      const value = text(body[field], maxLength);
      if (value === undefined) throw new HttpError(400, `${field} is required`);
      const reply = await call(caller, value, text(body.requestId, 64));
      if (reply.kind === 'queued') deps.live.touch(caller.userId);
      if (reply.kind === 'deleted') deps.live.send(caller.userId, 'deleted', { resultId: reply.resultId });
      sendJson(res, 200, reply);
    }),
  });

  return [
    {
      method: 'GET',
      prefix: '/',
      handler: (req, res) => {
        const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
        if (pathname !== '/' && pathname !== '/index.html') return sendJson(res, 404, { error: 'not found' });
        if (!deps.access.admitPage(req, res)) return;
        ensureSession(req, res);
        serveFile(req, res, 'index.html');
      },
    },
    {
      method: 'GET',
      prefix: '/static',
      handler: (req, res) => serveFile(req, res, path.basename(new URL(req.url ?? '/', 'http://localhost').pathname)),
    },
    inboundPost('/api/command', 'text', 5000, (caller, typed, requestId) => deps.inbound.text(caller, typed, requestId)),
    inboundPost('/api/press', 'id', 120, (caller, id, requestId) => deps.inbound.press(caller, id, requestId)),
    {
      // Remix and Custom Zoom: the inline form's text, for the button id it came from.
      method: 'POST',
      prefix: '/api/form',
      handler: api(async (req, res, caller) => {
        const body = await readJson(req);
        const id = text(body.id, 120);
        const typed = text(body.text, MAX_FORM_TEXT + 100);
        if (id === undefined || typed === undefined) throw new HttpError(400, 'id and text are required');
        const reply = await deps.inbound.form(caller, id, typed, text(body.requestId, 64));
        if (reply.kind === 'queued') deps.live.touch(caller.userId);
        sendJson(res, 200, reply);
      }),
    },
    {
      // Vary (Region) from the editor over one of the session's images: the mask travels as a PNG data URL.
      method: 'POST',
      prefix: '/api/region',
      handler: api(async (req, res, caller) => {
        const body = await readJson(req, REGION_BODY_BYTES);
        const resultId = text(body.resultId, 80);
        const index = body.index;
        if (resultId === undefined || typeof index !== 'number' || !Number.isInteger(index)) throw new HttpError(400, 'resultId and index are required');
        const reply = await regionReply(() => deps.inbound.region(caller, { resultId, index, prompt: text(body.prompt, MAX_FORM_TEXT), mask: maskBytes(body.mask) }, text(body.requestId, 64)));
        if (reply.kind === 'queued') deps.live.touch(caller.userId);
        sendJson(res, 200, reply);
      }),
    },
    {
      method: 'GET',
      prefix: '/api/events',
      handler: api((req, res, caller) => deps.live.connect(caller.userId, req, res)),
    },
    {
      method: 'GET',
      prefix: '/api/gallery',
      handler: api(async (_req, res, caller) => sendJson(res, 200, { results: (await deps.gallery.list(caller.userId)).map((r) => resultView(r, deps.flagged)) })),
    },
    {
      method: 'GET',
      prefix: '/api/info',
      handler: api(async (_req, res) =>
        sendJson(res, 200, {
          models: deps.models.names(),
          defaultModel: deps.models.defaultModel.name,
          limits: { maxSteps: deps.limits.maxSteps, maxN: deps.limits.maxN, samplers: deps.limits.allowedSamplers },
        }),
      ),
    },
    {
      method: 'GET',
      prefix: IMAGE_ROUTE,
      // A result's id is in every button id (and so in Discord and Slack messages): it proves
      // nothing. Only the session that made a web result gets its pictures; anyone else is told
      // what an unknown id is told, so ids cannot even be probed for.
      handler: api(async (req, res, caller) => {
        const m = /^\/api\/images\/([A-Za-z0-9_.-]{1,80})\/(grid|[0-3])\.png$/.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
        if (!m) return sendJson(res, 404, { error: 'not found' });
        const which = m[2] === 'grid' ? 'grid' : Number(m[2]);
        const found = await deps.results.get(m[1]);
        const result = found && found.origin.platform === 'web' && found.origin.userId === caller.userId ? found : null;
        if (result && isWithheld(result, which, deps.flagged)) return sendJson(res, 403, { error: 'the safety checker flagged this image, so it is withheld' });
        const ref = !result ? undefined : which === 'grid' ? (result.grid ?? result.images[0]?.artifact) : result.images[which]?.artifact;
        const bytes = ref ? await deps.artifacts.get(ref.key) : null;
        if (!bytes) return sendJson(res, 404, { error: 'this image has expired or was removed' });
        // Result images never change; they only disappear. Private: for this browser only.
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length, 'cache-control': 'private, max-age=86400, immutable' });
        res.end(bytes);
      }),
    },
  ];
}
