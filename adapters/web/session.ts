/**
 * The web "user": a browser session named by a random cookie. The id is 128 random bits, so
 * it cannot be guessed, and it is the only thing that ties a tab to its jobs and results
 * (the queue's per-user limits and the press policy apply to it like to a Discord user).
 * The id itself stays in the browser: everything stored knows the session by a keyed hash of
 * it (identity.ts).
 * HttpOnly keeps page scripts away from it; SameSite=Strict keeps other sites from making
 * requests that carry it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SESSION_COOKIE = 'imagine_session';
const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;
const ONE_YEAR_S = 365 * 86_400;

/** The values of the request's cookies called `name`, in the order sent. */
export function readCookies(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq >= 0 && part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim());
  }
  return values;
}

export function readSession(req: IncomingMessage): string | null {
  return readCookies(req, SESSION_COOKIE).find((value) => SESSION_ID.test(value)) ?? null;
}

/** The request's session, or a new one whose cookie is set on the response. */
export function ensureSession(req: IncomingMessage, res: ServerResponse): string {
  const existing = readSession(req);
  if (existing) return existing;
  const id = randomBytes(16).toString('base64url');
  res.setHeader('set-cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${ONE_YEAR_S}`);
  return id;
}
