/**
 * The Slack Web API calls the bot and the deliverer make, with the platform's rules applied
 * in one place:
 *  - posts (chat.postMessage, the file share) take their turn per channel (channel-pacer.ts);
 *  - a 429 is waited out for its Retry-After, a bounded number of times (`rateLimitRetries`;
 *    0 for the deliverer, whose retries belong to the delivery service) and never longer than
 *    `maxRateLimitWaitMs`; past that it becomes a TransientDeliveryError carrying the advice,
 *    which the delivery service's retry layer honours;
 *  - files go up with files.uploadV2 (getUploadURLExternal + upload + completeUploadExternal);
 *  - prompts never unfurl links.
 */
import { ErrorCode, type WebClient } from '@slack/web-api';
import { TransientDeliveryError, type DeliveryErrorClass } from '../../src/delivery.ts';
import { classifyCommonError } from '../../src/delivery-retry.ts';
import type { ChannelPacer } from './channel-pacer.ts';

export interface SlackApiOptions {
  maxRateLimitWaitMs?: number;
  rateLimitRetries?: number;
  /** Called before each wait (for logs and tests). */
  onRateLimited?(info: { call: string; retryAfterMs: number }): void;
}

export interface OutgoingMessage {
  text: string;
  blocks?: unknown[];
}

/**
 * The Slack deliverer's reading of an error (Deliverer.classifyError): a platform error
 * (channel_not_found, not_in_channel, invalid_blocks...) will not change on retry; a rate limit
 * carries Slack's advised wait; an HTTP 5xx or a network failure is worth another try.
 */
export function classifySlackError(err: unknown): DeliveryErrorClass {
  const common = classifyCommonError(err);
  if (common) return common;
  const e = err as { code?: string; retryAfter?: number; statusCode?: number } | null;
  if (e?.code === ErrorCode.PlatformError) return { verdict: 'permanent' };
  if (e?.code === ErrorCode.RateLimitedError) return { verdict: 'retry', status: 429, retryAfterMs: Math.max(0, (e.retryAfter ?? 1) * 1000) };
  if (e?.code === ErrorCode.HTTPError && typeof e.statusCode === 'number' && e.statusCode < 500 && e.statusCode !== 408) return { verdict: 'permanent', status: e.statusCode };
  // HTTP 5xx, request errors (the network), and anything unknown: the attempt bound keeps retries finite.
  return { verdict: 'retry', status: e?.statusCode };
}

/** The Slack error code of a failed call (`channel_not_found`, `message_not_found`...), if it was a platform error. */
export function slackErrorCode(err: unknown): string | undefined {
  const e = err as { code?: string; data?: { error?: unknown } } | null;
  return e?.code === ErrorCode.PlatformError && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

export class SlackApi {
  private readonly maxRateLimitWaitMs: number;
  private readonly rateLimitRetries: number;

  constructor(readonly client: WebClient, private readonly pacer: ChannelPacer, private readonly opts: SlackApiOptions = {}) {
    this.maxRateLimitWaitMs = opts.maxRateLimitWaitMs ?? 30_000;
    this.rateLimitRetries = opts.rateLimitRetries ?? 3;
  }

  async postMessage(channel: string, message: OutgoingMessage, threadTs?: string): Promise<{ channel: string; ts: string }> {
    const res = await this.call('chat.postMessage', channel, () =>
      this.client.chat.postMessage({
        channel,
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks as never } : {}),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    return { channel: res.channel ?? channel, ts: res.ts! };
  }

  async update(channel: string, ts: string, message: OutgoingMessage): Promise<void> {
    await this.call('chat.update', null, () => this.client.chat.update({ channel, ts, text: message.text, blocks: (message.blocks ?? []) as never }));
  }

  /** A modal, in answer to the interaction that carried `triggerId` (good for 3 seconds, once). */
  async openView(triggerId: string, view: Record<string, unknown>): Promise<void> {
    await this.call('views.open', null, () => this.client.views.open({ trigger_id: triggerId, view: view as never }));
  }

  async postEphemeral(channel: string, user: string, message: OutgoingMessage, threadTs?: string): Promise<void> {
    await this.call('chat.postEphemeral', null, () =>
      this.client.chat.postEphemeral({ channel, user, text: message.text, ...(message.blocks ? { blocks: message.blocks as never } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) }),
    );
  }

  async deleteMessage(channel: string, ts: string): Promise<void> {
    await this.call('chat.delete', null, () => this.client.chat.delete({ channel, ts }));
  }

  /** Adds a reaction; one that is already there counts as done. */
  async addReaction(channel: string, ts: string, name: string): Promise<void> {
    try {
      await this.call('reactions.add', null, () => this.client.reactions.add({ channel, timestamp: ts, name }));
    } catch (err) {
      if (slackErrorCode(err) !== 'already_reacted') throw err;
    }
  }

  /** Uploads one file into a channel or thread (files.uploadV2); returns the file id. */
  async uploadFile(file: { channel: string; threadTs?: string; filename: string; data: Buffer; title: string; altText: string }): Promise<{ fileId: string }> {
    const res = (await this.call('files.uploadV2', file.channel, () =>
      this.client.files.uploadV2(
        file.threadTs
          ? { channel_id: file.channel, thread_ts: file.threadTs, file: file.data, filename: file.filename, title: file.title, alt_text: file.altText }
          : { channel_id: file.channel, file: file.data, filename: file.filename, title: file.title, alt_text: file.altText },
      ),
    )) as { files?: Array<{ files?: Array<{ id?: string }> }> };
    const fileId = res.files?.[0]?.files?.[0]?.id;
    if (!fileId) throw new Error('files.uploadV2 answered without a file id');
    return { fileId };
  }

  async deleteFile(fileId: string): Promise<void> {
    await this.call('files.delete', null, () => this.client.files.delete({ file: fileId }));
  }

  private async call<T>(name: string, pacedChannel: string | null, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (pacedChannel) await this.pacer.turn(pacedChannel);
      try {
        return await fn();
      } catch (err) {
        const e = err as { code?: string; retryAfter?: number };
        if (e?.code !== ErrorCode.RateLimitedError) throw err;
        const retryAfterMs = Math.max(0, (e.retryAfter ?? 1) * 1000);
        if (retryAfterMs > this.maxRateLimitWaitMs || attempt >= this.rateLimitRetries) {
          throw new TransientDeliveryError(`Slack rate-limited ${name} (retry after ${retryAfterMs} ms)`, 429, retryAfterMs);
        }
        this.opts.onRateLimited?.({ call: name, retryAfterMs });
        await new Promise((r) => setTimeout(r, retryAfterMs));
      }
    }
  }
}
