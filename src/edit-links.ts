/**
 * Links from chat to the web region editor (Vary (Region) on Discord and Slack). A link names one
 * image of one result for the chat user who pressed the button, and is:
 *  - signed: HMAC-SHA256 with a key made once per install and kept in the key-value store, so
 *    every process (and every restart) checks links the same way, and nobody can write one;
 *  - expiring: LINK_TTL_S after it was made;
 *  - single use: the first browser that opens it claims it (only that browser may go on with
 *    it), and one submitted region job spends it.
 * The link carries only ids; who asked and where the answer goes (the presser's origin) stay in
 * the store under the link's random id, so the address holds nothing worth reading.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { originSchema, type Origin } from './jobs.ts';
import type { KeyValueStore } from './kv.ts';

export const LINK_TTL_S = 30 * 60;
const KEY_NAME = 'edit-link:key';
const KEY_BYTES = 32;
const recordKey = (linkId: string) => `edit-link:${linkId}`;
const claimKey = (linkId: string) => `edit-link:claim:${linkId}`;
const spentKey = (linkId: string) => `edit-link:spent:${linkId}`;

/** What a valid link stands for. */
export interface EditLink {
  linkId: string;
  resultId: string;
  index: number;
  /** The presser: the region job is theirs and is posted where they pressed. */
  origin: Origin;
  /** Epoch ms. */
  expiresAt: number;
}

export type LinkProblem = 'invalid' | 'expired' | 'claimed' | 'spent';

/** What each problem tells the person who opened the link. */
export const LINK_PROBLEM_TEXT: Record<LinkProblem, string> = {
  invalid: 'This editor link is not valid here: it was changed, or it was made by another installation. Press Vary (Region) again for a new link.',
  expired: 'This editor link has expired (links last 30 minutes). Press Vary (Region) again for a new one.',
  claimed: 'This editor link was already opened in another browser, and a link works for one browser only. Press Vary (Region) again for your own link.',
  spent: 'This editor link was already used for a region job, and a link works once. Press Vary (Region) again to edit once more.',
};

interface SignedPart {
  /** link id */
  l: string;
  r: string;
  i: number;
  /** platform:user the link was made for */
  u: string;
  /** expiry, epoch seconds */
  e: number;
}

export class EditLinks {
  private constructor(
    private readonly kv: KeyValueStore,
    private readonly key: Buffer,
    private readonly now: () => number,
  ) {}

  /** The install's key: the one already stored, or a new one stored now (the first process to start wins). */
  static async load(kv: KeyValueStore, now: () => number = Date.now): Promise<EditLinks> {
    await kv.setIfAbsent(KEY_NAME, randomBytes(KEY_BYTES).toString('base64url'), 0);
    const stored = await kv.get(KEY_NAME);
    const key = stored ? Buffer.from(stored, 'base64url') : null;
    if (!key || key.length !== KEY_BYTES) throw new Error(`the editor link key (${KEY_NAME}) is missing or damaged in the key-value store`);
    return new EditLinks(kv, key, now);
  }

  /** A new link token for one image of a result, for the presser `origin`. */
  async create(resultId: string, index: number, origin: Origin): Promise<string> {
    const linkId = randomBytes(12).toString('base64url');
    const expiresAt = this.now() + LINK_TTL_S * 1000;
    const valid = originSchema.parse(origin);
    await this.kv.set(recordKey(linkId), JSON.stringify({ resultId, index, origin: valid, expiresAt }), LINK_TTL_S);
    const part: SignedPart = { l: linkId, r: resultId, i: index, u: `${valid.platform}:${valid.userId}`, e: Math.floor(expiresAt / 1000) };
    const body = Buffer.from(JSON.stringify(part)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The link a token stands for, without claiming it. */
  async read(token: string): Promise<EditLink | LinkProblem> {
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 600) return 'invalid';
    const body = token.slice(0, dot);
    const offered = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) return 'invalid';
    let part: SignedPart;
    try {
      part = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return 'invalid';
    }
    if (part.e * 1000 <= this.now()) return 'expired';
    const raw = await this.kv.get(recordKey(part.l));
    // Signed but gone: the record expires with the link.
    if (!raw) return 'expired';
    const record = JSON.parse(raw) as { resultId: string; index: number; origin: unknown; expiresAt: number };
    const origin = originSchema.parse(record.origin);
    // The record must be the one the signature names (a store shared by installs is not trusted further).
    if (record.resultId !== part.r || record.index !== part.i || `${origin.platform}:${origin.userId}` !== part.u) return 'invalid';
    return { linkId: part.l, resultId: record.resultId, index: record.index, origin, expiresAt: record.expiresAt };
  }

  /**
   * The link, claimed for `browser` (the web session's user id): the first browser to open it
   * gets it, later opens from the same browser still do, any other browser is refused.
   */
  async claim(token: string, browser: string): Promise<EditLink | LinkProblem> {
    const link = await this.read(token);
    if (typeof link === 'string') return link;
    if (await this.isSpent(link)) return 'spent';
    const ttlS = Math.max(1, Math.ceil((link.expiresAt - this.now()) / 1000));
    await this.kv.setIfAbsent(claimKey(link.linkId), browser, ttlS);
    return (await this.kv.get(claimKey(link.linkId))) === browser ? link : 'claimed';
  }

  /** Spend a claimed link on one job; false when it was already spent (a second submit). */
  async spend(link: EditLink): Promise<boolean> {
    return this.kv.setIfAbsent(spentKey(link.linkId), '1', Math.max(1, Math.ceil((link.expiresAt - this.now()) / 1000)));
  }

  /** Give a spent link back when its job was not queued after all (a full queue, a limit). */
  async unspend(link: EditLink): Promise<void> {
    await this.kv.del(spentKey(link.linkId));
  }

  private async isSpent(link: EditLink): Promise<boolean> {
    return (await this.kv.get(spentKey(link.linkId))) !== null;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(`edit-link\0${body}`).digest('base64url');
  }
}

/** The editor's address for a link token. */
export function editLinkUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/edit?link=${encodeURIComponent(token)}`;
}
