/**
 * Answers through a response_url (the URL Slack sends with a slash command or a button press).
 * Slack accepts at most five posts to one within thirty minutes; the uses are counted in the
 * key-value store (shared by the bot and the workers) by claiming numbered slots with SET NX,
 * so concurrent callers can never exceed the limit. `send` answers false when the URL is used
 * up, expired or refused, and the caller falls back to chat.postEphemeral / chat.postMessage.
 */
import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../../src/kv.ts';
import { SLACK_RESPONSE_URL_TTL_S } from './secret.ts';

export const RESPONSE_URL_MAX_USES = 5;

export interface ResponseUrlMessage {
  text: string;
  blocks?: unknown[];
  /** Ephemeral (only the person who acted sees it) or posted in the channel. */
  ephemeral: boolean;
  /** Replace the message the URL belongs to (the command's earlier ephemeral answer). Never set for button presses on shared messages. */
  replaceOriginal?: boolean;
}

export interface ResponseUrlOptions {
  timeoutMs?: number;
  onError?(err: unknown): void;
}

const slotKey = (url: string, n: number) => `slack:response-url:${createHash('sha256').update(url).digest('hex').slice(0, 32)}:${n}`;

export class ResponseUrlReplies {
  private readonly timeoutMs: number;

  constructor(private readonly kv: KeyValueStore, private readonly opts: ResponseUrlOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  /** Claims one of the URL's uses; false when all five are spent. */
  private async claim(url: string): Promise<boolean> {
    for (let n = 1; n <= RESPONSE_URL_MAX_USES; n++) {
      if (await this.kv.setIfAbsent(slotKey(url, n), '1', SLACK_RESPONSE_URL_TTL_S)) return true;
    }
    return false;
  }

  async send(url: string, message: ResponseUrlMessage): Promise<boolean> {
    if (!(await this.claim(url))) return false;
    const body = {
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      response_type: message.ephemeral ? 'ephemeral' : 'in_channel',
      replace_original: message.replaceOriginal ?? false,
    };
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok;
    } catch (err) {
      this.opts.onError?.(err);
      return false;
    }
  }
}
