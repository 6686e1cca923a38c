/**
 * Who a web request is, as the rest of the product sees it. The browser's session id (its
 * cookie) is a bearer secret: whoever holds it acts as that session. So it is never stored: the
 * user id in job data, results, the gallery's key and the queue's limit keys is a keyed hash
 * (HMAC-SHA256) of it, and the same goes for the client address the per-address limit counts.
 *
 * The key is made once per install and kept in the key-value store (Redis in a fleet), so every
 * process serving the playground, and every restart, maps a session to the same user. Reading
 * the key out of Redis gives nothing back: a hash cannot be turned into the 128-bit session id
 * it was made from, so Redis holds no session that could be taken over.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../../src/kv.ts';

const KEY_NAME = 'web:identity-key';
const KEY_BYTES = 32;

export class WebIdentity {
  private constructor(private readonly key: Buffer) {}

  /** The install's key: the one already stored, or a new one stored now (the first process to start wins). */
  static async load(kv: KeyValueStore): Promise<WebIdentity> {
    await kv.setIfAbsent(KEY_NAME, randomBytes(KEY_BYTES).toString('base64url'), 0);
    const stored = await kv.get(KEY_NAME);
    const key = stored ? Buffer.from(stored, 'base64url') : null;
    if (!key || key.length !== KEY_BYTES) throw new Error(`the web playground's identity key (${KEY_NAME}) is missing or damaged in the key-value store`);
    return new WebIdentity(key);
  }

  /** The user id of a browser session: what jobs, results and limits know it by. */
  userId(sessionId: string): string {
    return this.hash('session', sessionId);
  }

  /** What the per-address limit counts a client address under. */
  clientKey(address: string): string {
    return this.hash('client', address);
  }

  /** The cookie value that proves a browser was given the access key (changes when the key does). */
  accessToken(accessKey: string): string {
    return this.hash('access', accessKey);
  }

  private hash(purpose: string, value: string): string {
    return createHmac('sha256', this.key).update(`${purpose}\0${value}`).digest('base64url');
  }
}
