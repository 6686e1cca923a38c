/**
 * The playground's optional access key (WEB_ACCESS_KEY). Whoever opens the page with
 * `?key=<the key>` once gets an HttpOnly cookie holding a keyed hash of the key (identity.ts),
 * and is sent on to the bare page so the key does not stay in the address bar or history.
 * Every other playground request needs that cookie. A new key invalidates the old cookies.
 *
 * The cookie is SameSite=Lax, not Strict like the session's: the link with the key usually
 * comes from elsewhere (chat, e-mail), and the redirect that follows it is a cross-site
 * navigation, on which a Strict cookie would not be sent. It only opens the gate; what a
 * request may do still rests on the Strict session cookie and the JSON-only POSTs.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebIdentity } from './identity.ts';
import { readCookies } from './session.ts';

export const ACCESS_COOKIE = 'imagine_access';
const ONE_YEAR_S = 365 * 86_400;

const NEEDS_KEY = 'This playground needs an access key: open the link with ?key=… that its operator gave you.';
const WRONG_KEY = 'That access key is not right. Ask the operator of this playground for the current link.';

export class AccessGate {
  constructor(
    private readonly identity: WebIdentity,
    private readonly accessKey: string | undefined,
  ) {}

  get required(): boolean {
    return this.accessKey !== undefined;
  }

  /** The page: true to serve it; otherwise the answer (a redirect that sets the cookie, or a refusal) was sent. */
  admitPage(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.admitted(req)) return true;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const offered = url.searchParams.get('key');
    if (offered !== null && this.accessKey !== undefined && sameText(offered, this.accessKey)) {
      res.writeHead(303, {
        'set-cookie': `${ACCESS_COOKIE}=${this.identity.accessToken(this.accessKey)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${ONE_YEAR_S}`,
        location: '/',
        'cache-control': 'no-store',
      });
      res.end();
      return false;
    }
    res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(offered === null ? NEEDS_KEY : WRONG_KEY);
    return false;
  }

  /** An API call or static file: true to go on; otherwise a 401 was sent. */
  admitApi(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.admitted(req)) return true;
    res.writeHead(401, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error: NEEDS_KEY }));
    return false;
  }

  private admitted(req: IncomingMessage): boolean {
    const key = this.accessKey;
    if (key === undefined) return true;
    const token = this.identity.accessToken(key);
    return readCookies(req, ACCESS_COOKIE).some((offered) => sameText(offered, token));
  }
}

/** Equal strings, compared in time that does not depend on where they differ. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
