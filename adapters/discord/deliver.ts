/**
 * The Discord deliverer (bot side): progress edits, the result grid with its buttons, and
 * failure notices, over REST only (@discordjs/rest; delivery never needs the gateway).
 *
 * Where a message goes:
 *  1. while the job's interaction token is valid: the interaction webhook, editing the
 *     original reply (`@original`) that the bot deferred;
 *  2. once the token has expired (Discord answers 50027), or for jobs that never had one
 *     (reactions): the bot's channel routes, editing the message that already shows the job
 *     when the bot may edit it, else posting a new one with a nonce and enforce_nonce so that
 *     a retried post cannot appear twice.
 * An expired token is never a failure; it only changes the route.
 */
import type { REST, RawFile } from '@discordjs/rest';
import type { DiscordConfig } from './env.ts';
import type { DeliveredMessage, Deliverer, DeliveryErrorClass, DeliveryContext, DeliveryTarget, FailureContext, FailureNotice, ProgressUpdate, ResultFiles } from '../../src/delivery.ts';
import { deliveryTarget, PermanentDeliveryError, showsFlaggedImage } from '../../src/delivery.ts';
import type { JobPayload, JobResult, Origin } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import { describeFit, fitImage, type FittedImage } from './fit-attachment.ts';
import { nonceFor } from './nonce.ts';
import { discordOriginData } from './origin-data.ts';
import { interactionTokenOf } from './secret.ts';
import { renderFailure, renderProgress, renderResult, type RenderedMessage } from './render.ts';
import { classifyDiscordError, createDiscordRest, DEFAULT_REST_LIMITS, DiscordCode, isDiscordCode, withRateLimitBudget, type DiscordRestLimits } from './rest.ts';
import { attachmentLimitFor, isTokenDead, jobMessage, markTokenDead, rememberAttachmentLimit, rememberJobMessage, REPLY_HOLD, type JobMessage } from './state.ts';

export interface DiscordDelivererOptions {
  rest: REST;
  kv: KeyValueStore;
  /** Used when a job's origin does not name its application (it always does for interactions). */
  applicationId?: string;
  nsfwMode: DiscordConfig['NSFW_MODE'];
  /** Results offer Vary (Region): PUBLIC_URL is set, so its editor can be reached. */
  regionEditor?: boolean;
}

interface OutgoingMessage extends RenderedMessage {
  files?: RawFile[];
  /** Attachments the message keeps afterwards; [] removes a progress preview. */
  attachments?: UploadedAttachment[];
}

/**
 * A new upload in a create/edit body: `id` is a snowflake, which Discord's JSON writes as a
 * string, and for a new file it names its index in files[n]; `description` is the alt text.
 */
interface UploadedAttachment {
  id: string;
  filename: string;
  description: string;
}

/** Discord's limit on an attachment's description (alt text). */
export const MAX_ALT_TEXT = 1024;

/** The image's alt text: the prompt it was drawn from, cut to Discord's limit. */
export function altText(payload: JobPayload): string {
  const prompt = payload.params.prompt;
  return prompt.length > MAX_ALT_TEXT ? `${prompt.slice(0, MAX_ALT_TEXT - 1)}…` : prompt;
}

/** The one file a message uploads, as files[0]. */
const firstUpload = (filename: string, payload: JobPayload): UploadedAttachment => ({ id: '0', filename, description: altText(payload) });

interface APIMessage {
  id: string;
  channel_id: string;
}

const webhookMessage = (appId: string, token: string, messageId: string) => `/webhooks/${appId}/${token}/messages/${messageId}` as const;
const channelMessages = (channelId: string) => `/channels/${channelId}/messages` as const;
const channelMessage = (channelId: string, messageId: string) => `/channels/${channelId}/messages/${messageId}` as const;

type MessageKind = 'progress' | 'result' | 'failure';

/** Answers meaning the interaction webhook is no longer usable for this job. */
const WEBHOOK_GONE = [DiscordCode.InvalidWebhookToken, DiscordCode.UnknownWebhook];
/** Answers meaning the message the job was shown in cannot be edited any more. */
const MESSAGE_GONE = [DiscordCode.UnknownMessage, DiscordCode.CannotEditOthersMessage];
/** Re-fit attempts after Discord refuses an upload that our fit thought small enough. */
const MAX_SHRINKS = 3;

export class DiscordDeliverer implements Deliverer {
  readonly platform = 'discord' as const;

  constructor(private readonly opts: DiscordDelivererOptions) {}

  /** Retries belong to the delivery service; this only says which Discord answers deserve one. */
  classifyError(err: unknown): DeliveryErrorClass {
    return classifyDiscordError(err);
  }

  async progress(ctx: DeliveryContext, update: ProgressUpdate): Promise<void> {
    const rendered = renderProgress(ctx.payload, update, ctx.jobId);
    const message: OutgoingMessage = update.preview
      ? { ...rendered, files: [{ name: 'preview.png', data: update.preview, contentType: 'image/png' }], attachments: [firstUpload('preview.png', ctx.payload)] }
      : rendered;
    await this.show(deliveryTarget(ctx), message, 'progress');
  }

  async result(ctx: DeliveryContext, result: JobResult, files: ResultFiles): Promise<DeliveredMessage> {
    let limit = await attachmentLimitFor(this.opts.kv, result.origin);
    // Flagged images are shown as they are only where the channel is marked NSFW.
    const flagged = showsFlaggedImage(result) && !(await this.channelIsNsfw(result.origin));
    const withhold = flagged && this.opts.nsfwMode === 'withhold';
    const spoiler = flagged && this.opts.nsfwMode === 'spoiler';

    for (let shrink = 0; ; shrink++) {
      const fit = withhold ? null : await fitImage(files.grid, limit);
      const message = this.resultMessage(ctx.payload, result, fit, { withheld: withhold, spoiler });
      try {
        const delivered = await this.show(deliveryTarget(ctx), message, 'result');
        // Discord's real limit is below what it advertised: start from a size it took next time.
        if (shrink > 0 && fit) await rememberAttachmentLimit(this.opts.kv, result.origin, fit.data.length);
        return { messageId: delivered.messageId, channelId: delivered.channelId };
      } catch (err) {
        // Discord's own limit can be below what it advertised (or below the default we assumed).
        if (!isDiscordCode(err, DiscordCode.RequestEntityTooLarge)) throw err;
        if (!fit || shrink >= MAX_SHRINKS) throw new PermanentDeliveryError(`Discord refused the image even at ${fit?.data.length ?? 0} bytes`, 413);
        limit = Math.floor(Math.min(limit, fit.data.length) / 2);
      }
    }
  }

  async failure(ctx: FailureContext, notice: FailureNotice): Promise<void> {
    await this.show(ctx, { ...renderFailure(ctx, notice), attachments: [] }, 'failure');
  }

  private resultMessage(payload: JobPayload, result: JobResult, fit: FittedImage | null, nsfw: { withheld: boolean; spoiler: boolean }): OutgoingMessage {
    const notes: string[] = [];
    const fitNote = fit ? describeFit(fit) : null;
    if (fitNote) notes.push(fitNote);
    if (nsfw.withheld) notes.push('The safety checker flagged this image, so it is withheld in this channel.');
    else if (nsfw.spoiler) notes.push('The safety checker flagged this image; it is hidden behind a spoiler.');
    const rendered = renderResult(payload, result, notes, { regionEditor: this.opts.regionEditor ?? false });
    if (!fit) return { ...rendered, attachments: [] };
    const filename = `${nsfw.spoiler ? 'SPOILER_' : ''}imagine-${result.resultId}.${fit.ext}`;
    return { ...rendered, files: [{ name: filename, data: fit.data, contentType: fit.contentType }], attachments: [firstUpload(filename, payload)] };
  }

  /** Show a message for the job: through the interaction while its token lives, else the channel routes. */
  private async show(ctx: DeliveryTarget, message: OutgoingMessage, kind: MessageKind): Promise<{ messageId: string; channelId: string }> {
    const { kv } = this.opts;
    const origin = ctx.origin;
    const appId = discordOriginData(origin).applicationId ?? this.opts.applicationId;
    const token = interactionTokenOf(ctx.secret);
    if (origin.eventId) await REPLY_HOLD.waitForRelease(kv, origin.eventId);
    // The message that shows the job: remembered from an earlier delivery or the bot's reply, else
    // the one the bot created before enqueueing (button follow-ups, reaction posts).
    const known: JobMessage | null =
      (await jobMessage(kv, ctx.jobId)) ?? (origin.messageId ? { channelId: origin.threadId ?? origin.channelId, messageId: origin.messageId, via: token ? 'interaction' : 'channel' } : null);

    if (token && appId && known?.via !== 'channel' && !(await isTokenDead(kv, ctx.jobId))) {
      try {
        const ref = known?.messageId ?? '@original';
        const shown = (await this.call(() => this.opts.rest.patch(webhookMessage(appId, token, ref), { auth: false, body: this.body(message, origin), files: message.files }))) as APIMessage;
        if (known?.messageId !== shown.id) await rememberJobMessage(kv, ctx.jobId, { channelId: shown.channel_id, messageId: shown.id, via: 'interaction' });
        return { messageId: shown.id, channelId: shown.channel_id };
      } catch (err) {
        if (isDiscordCode(err, ...WEBHOOK_GONE) || (err as { status?: number }).status === 401) await markTokenDead(kv, ctx.jobId);
        else if (!isDiscordCode(err, DiscordCode.UnknownMessage)) throw this.classify(redactToken(err, token), kind);
        // The token expired or the reply was deleted: carry on through the channel.
      }
    }
    return this.showInChannel(ctx, message, kind, known);
  }

  private async showInChannel(ctx: DeliveryTarget, message: OutgoingMessage, kind: MessageKind, known: JobMessage | null): Promise<{ messageId: string; channelId: string }> {
    const { kv, rest } = this.opts;
    const origin = ctx.origin;
    if (known) {
      // Interaction replies that are not ephemeral belong to the bot user, so the channel route may edit them.
      try {
        const sent = (await this.call(() => rest.patch(channelMessage(known.channelId, known.messageId), { body: this.body(message, origin), files: message.files }))) as APIMessage;
        return { messageId: sent.id, channelId: sent.channel_id };
      } catch (err) {
        if (!isDiscordCode(err, ...MESSAGE_GONE)) throw this.classify(err, kind);
      }
    }
    const body = { ...this.body(message, origin), nonce: nonceFor(ctx.jobId, kind), enforce_nonce: true };
    try {
      const sent = (await this.call(() => rest.post(channelMessages(origin.threadId ?? origin.channelId), { body, files: message.files }))) as APIMessage;
      await rememberJobMessage(kv, ctx.jobId, { channelId: sent.channel_id, messageId: sent.id, via: 'channel' });
      return { messageId: sent.id, channelId: sent.channel_id };
    } catch (err) {
      throw this.classify(err, kind);
    }
  }

  private body(message: OutgoingMessage, origin: Origin): Record<string, unknown> {
    return {
      content: message.content,
      components: message.components,
      // Mention the requester (a ping when the result lands) and nobody else, whatever the prompt says.
      allowed_mentions: { parse: [], users: [origin.userId] },
      ...(message.attachments ? { attachments: message.attachments } : {}),
    };
  }

  /** One REST call, with its own bound on the rate-limit waits discord.js sits out (no retries: those are the delivery service's). */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    return withRateLimitBudget(fn);
  }

  /** 4xx answers other than the ones handled above will not change on retry. */
  private classify(err: unknown, kind: string): unknown {
    const status = (err as { status?: number }).status;
    // Too large is answered by shrinking the image (see result()), not by giving up here.
    if (isDiscordCode(err, DiscordCode.RequestEntityTooLarge)) return err;
    if (typeof status === 'number' && status >= 400 && status < 500 && status !== 429 && status !== 408) {
      return new PermanentDeliveryError(`Discord refused the ${kind} message: ${(err as Error).message}`, status);
    }
    return err;
  }

  private async channelIsNsfw(origin: Origin): Promise<boolean> {
    try {
      const channel = (await this.call(() => this.opts.rest.get(`/channels/${origin.threadId ?? origin.channelId}`))) as { nsfw?: boolean };
      return channel.nsfw === true;
    } catch {
      // Unknown means not NSFW: the cautious answer.
      return false;
    }
  }
}

/**
 * Errors from @discordjs/rest carry the request URL, and an interaction webhook URL contains
 * the token (a credential for 15 minutes). Scrub it before the error travels to logs.
 */
function redactToken(err: unknown, token: string): unknown {
  if (err && typeof err === 'object') {
    const e = err as { url?: unknown; message?: unknown };
    if (typeof e.url === 'string') e.url = e.url.split(token).join('[interaction-token]');
    if (typeof e.message === 'string') e.message = e.message.split(token).join('[interaction-token]');
  }
  return err;
}

export function createDiscordDeliverer(config: Pick<DiscordConfig, 'DISCORD_TOKEN' | 'DISCORD_APP_ID' | 'DISCORD_API_URL' | 'NSFW_MODE' | 'PUBLIC_URL'>, kv: KeyValueStore, limits: DiscordRestLimits = DEFAULT_REST_LIMITS): DiscordDeliverer {
  if (!config.DISCORD_TOKEN) throw new Error('DISCORD_TOKEN is required to deliver to Discord');
  return new DiscordDeliverer({
    rest: createDiscordRest(config.DISCORD_TOKEN, config.DISCORD_API_URL, limits),
    kv,
    applicationId: config.DISCORD_APP_ID,
    nsfwMode: config.NSFW_MODE,
    regionEditor: config.PUBLIC_URL !== undefined,
  });
}

