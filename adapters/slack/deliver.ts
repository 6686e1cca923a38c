/**
 * The Slack deliverer (bot side; Web API only, never Socket Mode):
 *  - progress: chat.update of the job's status message in the thread (the bot posted it before
 *    enqueueing), at most once per `minProgressIntervalMs` per job on top of the worker's own
 *    throttle, because chat.update is rate-limited per workspace;
 *  - result: the grid uploaded into the thread with files.uploadV2, then a Block Kit message
 *    with the buttons, the status message marked done, the first reaction of the emoji map
 *    added as a one-click hint, and the requester's "queued" ephemeral replaced through the
 *    response_url while it is still usable;
 *  - failure: the status message shows the reason (with Retry when offered).
 * A retried delivery repeats no step that already happened (state.ts records them), and a
 * status message that was deleted is replaced by a new one in the thread.
 */
import type { SlackConfig } from './env.ts';
import type { DeliveredMessage, Deliverer, DeliveryContext, DeliveryErrorClass, DeliveryTarget, FailureContext, FailureNotice, ProgressUpdate, ResultFiles } from '../../src/delivery.ts';
import { deliveryTarget, PermanentDeliveryError, showsFlaggedImage } from '../../src/delivery.ts';
import type { JobResult } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import type { Logger } from '../../src/logger.ts';
import { createLogger } from '../../src/logger.ts';
import { resultTtlSeconds } from '../../src/results.ts';
import { ChannelPacer } from './channel-pacer.ts';
import type { ReactionMap } from '../../commands/reaction-map.ts';
import { parseSlackReactions } from './reactions.ts';
import { renderFailure, renderNotice, renderResult, renderStatus, type StatusState } from './render.ts';
import { ResponseUrlReplies } from './response-url.ts';
import { classifySlackError, SlackApi, slackErrorCode, type OutgoingMessage } from './slack-api.ts';
import { responseUrlOf } from './secret.ts';
import * as state from './state.ts';
import { createSlackWebClient, DELIVERY_CLIENT_LIMITS } from './web-client.ts';

export interface SlackDelivererOptions {
  api: SlackApi;
  kv: KeyValueStore;
  responses: ResponseUrlReplies;
  reactions: ReactionMap;
  /** Results offer Vary (Region): PUBLIC_URL is set, so its editor can be reached. */
  regionEditor?: boolean;
  /** How long result records (and so the file that shows one) are kept. */
  resultTtlS: number;
  minProgressIntervalMs?: number;
  logger?: Logger;
}

/** Answers meaning the message cannot be edited any more: post a new one instead. */
const MESSAGE_GONE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);
/** Progress timestamps kept per job; old entries are dropped beyond this. */
const MAX_TRACKED_JOBS = 1000;

export class SlackDeliverer implements Deliverer {
  readonly platform = 'slack' as const;
  private readonly lastProgressAt = new Map<string, number>();
  private readonly minProgressIntervalMs: number;
  private readonly logger: Logger;

  constructor(private readonly opts: SlackDelivererOptions) {
    this.minProgressIntervalMs = opts.minProgressIntervalMs ?? 1000;
    this.logger = opts.logger ?? createLogger({ name: 'slack-deliver' });
  }

  /** Retries belong to the delivery service; this only says which Slack answers deserve one. */
  classifyError(err: unknown): DeliveryErrorClass {
    return classifySlackError(err);
  }

  async progress(ctx: DeliveryContext, update: ProgressUpdate): Promise<void> {
    const now = Date.now();
    const last = this.lastProgressAt.get(ctx.jobId);
    if (last !== undefined && now - last < this.minProgressIntervalMs) return;
    this.lastProgressAt.delete(ctx.jobId);
    this.lastProgressAt.set(ctx.jobId, now);
    if (this.lastProgressAt.size > MAX_TRACKED_JOBS) this.lastProgressAt.delete(this.lastProgressAt.keys().next().value!);
    // Latent previews are not shown: an edited Slack message cannot take a new image without another upload.
    await this.showStatus(deliveryTarget(ctx), renderStatus(ctx.payload, { kind: 'progress', update }, ctx.jobId));
  }

  async result(ctx: DeliveryContext, result: JobResult, files: ResultFiles): Promise<DeliveredMessage> {
    this.lastProgressAt.delete(ctx.jobId);
    const { api, kv } = this.opts;
    const origin = ctx.payload.origin;
    const channel = origin.channelId;
    const thread = origin.threadId;
    // Slack has no spoilers, so an image the safety checker flagged is withheld in either NSFW mode.
    const withheld = showsFlaggedImage(result);
    const notes = withheld ? ['The safety checker flagged this image, so it is not shown here.'] : [];

    if (!withheld) {
      let fileId = await state.uploadedFile(kv, ctx.jobId);
      if (!fileId) {
        const title = oneLine(result.params.prompt, 250);
        ({ fileId } = await this.slack('files.uploadV2', () =>
          api.uploadFile({ channel, threadTs: thread, filename: `imagine-${result.resultId}.png`, data: files.grid, title, altText: oneLine(result.params.prompt, 1000) }),
        ));
        await state.rememberUpload(kv, ctx.jobId, fileId);
      }
      await state.rememberResultFile(kv, result.resultId, fileId, this.opts.resultTtlS);
    }

    const message = renderResult(ctx.payload, result, notes, { regionEditor: this.opts.regionEditor ?? false });
    let ref = await state.resultMessage(kv, ctx.jobId);
    if (ref) {
      await this.slack('chat.update', () => api.update(ref!.channel, ref!.ts, message));
    } else {
      ref = await this.slack('chat.postMessage', () => api.postMessage(channel, message, thread));
      await state.rememberResultMessage(kv, ctx.jobId, ref);
    }

    // The image and its buttons are out; what follows only tidies up, so it never fails the delivery.
    await this.bestEffort('mark the status message done', () => this.showStatus(deliveryTarget(ctx), renderStatus(ctx.payload, { kind: 'done' } satisfies StatusState), { postIfGone: false }));
    const hint = this.opts.reactions.entries[0]?.key;
    if (hint) await this.bestEffort('add the reaction hint', () => api.addReaction(ref!.channel, ref!.ts, hint));
    await this.tellRequester(ctx, '✅ Your images are ready in the thread.');
    return { messageId: ref.ts, channelId: ref.channel };
  }

  async failure(ctx: FailureContext, notice: FailureNotice): Promise<void> {
    this.lastProgressAt.delete(ctx.jobId);
    await this.showStatus(ctx, renderFailure(ctx, notice));
    await this.tellRequester(ctx, notice.cancelled ? '🚫 Your request was cancelled.' : `❌ Your request failed: ${notice.message}`);
  }

  /** Edit the job's status message, or post a new one in the thread when there is none (or it was deleted). */
  private async showStatus(ctx: DeliveryTarget, message: OutgoingMessage, opts: { postIfGone?: boolean } = {}): Promise<void> {
    const { api, kv } = this.opts;
    const origin = ctx.origin;
    if (origin.eventId) await state.STATUS_HOLD.waitForRelease(kv, origin.eventId);
    const known = (await state.statusMessage(kv, ctx.jobId)) ?? (origin.messageId ? { channel: origin.channelId, ts: origin.messageId } : null);
    if (known) {
      try {
        await api.update(known.channel, known.ts, message);
        return;
      } catch (err) {
        if (!MESSAGE_GONE.has(slackErrorCode(err) ?? '')) throw this.classify('chat.update', err);
      }
    }
    if (opts.postIfGone === false) return;
    const posted = await this.slack('chat.postMessage', () => api.postMessage(origin.channelId, message, origin.threadId));
    await state.rememberStatusMessage(kv, ctx.jobId, posted);
  }

  /** Replace the requester's "queued" ephemeral (slash commands only carry a response_url secret). */
  private async tellRequester(ctx: Pick<DeliveryTarget, 'secret'>, text: string): Promise<void> {
    const url = responseUrlOf(ctx.secret);
    if (!url) return;
    await this.bestEffort('answer through the response_url', () => this.opts.responses.send(url, { ...renderNotice(text), ephemeral: true, replaceOriginal: true }));
  }

  private async slack<T>(call: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.classify(call, err);
    }
  }

  /** Slack platform errors (channel_not_found, not_in_channel, invalid_blocks...) will not change on retry. */
  private classify(call: string, err: unknown): unknown {
    const code = slackErrorCode(err);
    return code ? new PermanentDeliveryError(`Slack refused ${call}: ${code}`) : err;
  }

  private async bestEffort(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message } }, `could not ${what}`);
    }
  }
}

function oneLine(text: string, max: number): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export interface SlackDelivererConfig extends Pick<SlackConfig, 'SLACK_BOT_TOKEN' | 'SLACK_API_URL' | 'SLACK_REACTIONS' | 'RESULT_TTL_DAYS' | 'PUBLIC_URL'> {}

export function createSlackDeliverer(
  config: SlackDelivererConfig,
  kv: KeyValueStore,
  opts: { logger?: Logger; timeoutMs?: number; pacer?: ChannelPacer; minProgressIntervalMs?: number } = {},
): SlackDeliverer {
  const logger = opts.logger ?? createLogger({ name: 'slack-deliver' });
  // The client and the API wrapper retry nothing themselves: the delivery service's retry layer does.
  const client = createSlackWebClient(config, logger, { ...DELIVERY_CLIENT_LIMITS, timeoutMs: opts.timeoutMs ?? DELIVERY_CLIENT_LIMITS.timeoutMs });
  const api = new SlackApi(client, opts.pacer ?? new ChannelPacer(kv), { rateLimitRetries: 0 });
  return new SlackDeliverer({
    api,
    kv,
    responses: new ResponseUrlReplies(kv),
    reactions: parseSlackReactions(config.SLACK_REACTIONS ?? undefined),
    regionEditor: config.PUBLIC_URL !== undefined,
    resultTtlS: resultTtlSeconds(config),
    minProgressIntervalMs: opts.minProgressIntervalMs,
    logger,
  });
}
