/**
 * The region editor reached through a link from chat (src/edit-links.ts), served wherever
 * PUBLIC_URL points, with or without the playground:
 *   GET  /edit?link=<token>              the editor page, or a page saying why the link cannot be used
 *   GET  /edit/static/<file>             its script and style sheet
 *   GET  /edit/api/link?link=<token>     what the page edits: the prompt, the image's size, where the result goes
 *   GET  /edit/api/image?link=<token>    the image itself
 *   POST /edit/api/submit {link, prompt, mask, requestId}   the region job
 * The link is the credential: no playground session or access key is needed, and it works for
 * one browser only. That browser is known by its own cookie, SameSite=Lax so that it is sent
 * when the link is followed from chat (a cross-site navigation), and kept apart from the
 * playground's Strict session cookie. POSTs must be JSON, as everywhere on this server.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_FORM_TEXT, promptLine } from '../../commands/edit-forms.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import { LINK_PROBLEM_TEXT, type EditLink, type EditLinks } from '../../src/edit-links.ts';
import type { HttpRoute } from '../../src/http-server.ts';
import type { ResultStore } from '../../src/results.ts';
import type { WebIdentity } from './identity.ts';
import type { WebCaller, WebInbound } from './inbound.ts';
import { clientAddress } from './client-address.ts';
import { maskBytes } from './region-mask.ts';
import { HttpError, readJson, REGION_BODY_BYTES, regionReply, sendJson, text } from './routes.ts';
import { readCookies } from './session.ts';
import { isWithheld, type FlaggedImagePolicy } from './view.ts';

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
const STATIC: Record<string, string> = { 'editor.js': 'text/javascript; charset=utf-8', 'edit.js': 'text/javascript; charset=utf-8', 'editor.css': 'text/css; charset=utf-8' };
export const EDITOR_COOKIE = 'imagine_editor';
const BROWSER_ID = /^[A-Za-z0-9_-]{22}$/;
const LINK_TTL_COOKIE_S = 24 * 3600;

export interface EditLinkRouteDeps {
  links: EditLinks;
  inbound: WebInbound;
  results: ResultStore;
  artifacts: ArtifactStore;
  identity: WebIdentity;
  trustedProxies: number;
  flagged: FlaggedImagePolicy;
}

/** The browser's editor id (a keyed hash of its cookie), setting the cookie when it has none. */
function editorBrowser(req: IncomingMessage, res: ServerResponse, identity: WebIdentity): string {
  let id = readCookies(req, EDITOR_COOKIE).find((v) => BROWSER_ID.test(v));
  if (!id) {
    id = randomBytes(16).toString('base64url');
    res.setHeader('set-cookie', `${EDITOR_COOKIE}=${id}; Path=/edit; HttpOnly; SameSite=Lax; Max-Age=${LINK_TTL_COOKIE_S}`);
  }
  return identity.userId(`editor:${id}`);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A page that says why the link cannot be used (and nothing else: no editor, no image). */
function problemPage(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>/imagine · region editor</title><link rel="stylesheet" href="/edit/static/editor.css"></head>` +
      `<body class="edit-page"><main class="link-problem" data-testid="link-problem"><h1>This link cannot be used</h1><p>${escapeHtml(message)}</p></main></body></html>`,
  );
}

const STATUS = { invalid: 403, claimed: 403, expired: 410, spent: 410 } as const;

export function editLinkRoutes(deps: EditLinkRouteDeps): HttpRoute[] {
  const page = readFileSync(path.join(PUBLIC_DIR, 'edit.html'));
  const files = new Map(Object.entries(STATIC).map(([name, type]) => [name, { body: readFileSync(path.join(PUBLIC_DIR, name)), type }]));

  /** The link a request names, claimed for its browser; or the problem, already answered as JSON. */
  const claimed = async (req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<{ link: EditLink; browser: string } | null> => {
    const browser = editorBrowser(req, res, deps.identity);
    const link = token ? await deps.links.claim(token, browser) : 'invalid';
    if (typeof link === 'string') {
      sendJson(res, STATUS[link], { error: LINK_PROBLEM_TEXT[link], problem: link });
      return null;
    }
    return { link, browser };
  };
  /** The claimed link of a GET (?link=) with the result and image it names; or the problem, already answered. */
  const linkedImage = async (req: IncomingMessage, res: ServerResponse) => {
    const got = await claimed(req, res, query(req, 'link'));
    if (!got) return null;
    const result = await deps.results.get(got.link.resultId);
    const image = result?.images[got.link.index];
    if (!result || !image) {
      sendJson(res, 410, { error: 'This result has expired; run /imagine again to make new images.', problem: 'expired' });
      return null;
    }
    return { ...got, result, image };
  };
  const query = (req: IncomingMessage, name: string) => new URL(req.url ?? '/', 'http://localhost').searchParams.get(name) ?? undefined;

  const guarded = (handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) => async (req: IncomingMessage, res: ServerResponse) => {
    try {
      await handler(req, res);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
      throw err;
    }
  };

  return [
    {
      method: 'GET',
      prefix: '/edit/static',
      handler: (req, res) => {
        const file = files.get(path.basename(new URL(req.url ?? '/', 'http://localhost').pathname));
        if (!file) return sendJson(res, 404, { error: 'not found' });
        res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
        res.end(file.body);
      },
    },
    {
      method: 'GET',
      prefix: '/edit/api/link',
      handler: guarded(async (req, res) => {
        const got = await linkedImage(req, res);
        if (!got) return;
        const { result, image } = got;
        sendJson(res, 200, {
          prompt: promptLine(result),
          index: got.link.index,
          width: image.width,
          height: image.height,
          platform: got.link.origin.platform,
          expiresAt: got.link.expiresAt,
          imageUrl: `/edit/api/image?link=${encodeURIComponent(query(req, 'link')!)}`,
        });
      }),
    },
    {
      method: 'GET',
      prefix: '/edit/api/image',
      handler: guarded(async (req, res) => {
        const got = await linkedImage(req, res);
        if (!got) return;
        if (isWithheld(got.result, got.link.index, deps.flagged)) return sendJson(res, 403, { error: 'the safety checker flagged this image, so it is withheld' });
        const bytes = await deps.artifacts.get(got.image.artifact.key);
        if (!bytes) return sendJson(res, 404, { error: 'this image has expired or was removed' });
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length, 'cache-control': 'private, no-store' });
        res.end(bytes);
      }),
    },
    {
      method: 'POST',
      prefix: '/edit/api/submit',
      handler: guarded(async (req, res) => {
        const body = await readJson(req, REGION_BODY_BYTES);
        const got = await claimed(req, res, text(body.link, 600));
        if (!got) return;
        // Spent before the job is made, so two submits at once cannot both make one.
        if (!(await deps.links.spend(got.link))) return sendJson(res, 410, { error: LINK_PROBLEM_TEXT.spent, problem: 'spent' });
        const caller: WebCaller = { userId: got.browser, clientKey: deps.identity.clientKey(clientAddress(req, deps.trustedProxies)) };
        const reply = await regionReply(() => deps.inbound.regionFromLink(caller, got.link, { prompt: text(body.prompt, MAX_FORM_TEXT), mask: maskBytes(body.mask) })).catch(async (err) => {
          await deps.links.unspend(got.link);
          throw err;
        });
        // Nothing was queued (a bad mask, a limit): the link stays usable for another try.
        if (reply.kind !== 'queued') await deps.links.unspend(got.link);
        sendJson(res, 200, { ...reply, platform: got.link.origin.platform });
      }),
    },
    {
      method: 'GET',
      prefix: '/edit',
      handler: guarded(async (req, res) => {
        const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
        if (pathname !== '/edit') return sendJson(res, 404, { error: 'not found' });
        const token = query(req, 'link');
        const link = token ? await deps.links.claim(token, editorBrowser(req, res, deps.identity)) : 'invalid';
        if (typeof link === 'string') return problemPage(res, STATUS[link], LINK_PROBLEM_TEXT[link]);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
        res.end(page);
      }),
    },
  ];
}
