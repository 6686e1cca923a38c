/**
 * Small pieces of Discord state that the bot and the workers share through the key-value
 * store (Redis in a fleet), because they live in different processes:
 *  - the attachment size limit Discord reported for a guild (interactions carry it; the worker
 *    that uploads never sees the interaction);
 *  - which message shows a job, so progress, the result and a retry after a crash all edit the
 *    same message instead of posting new ones;
 *  - the hold on a job's reply while the bot shows its queue position (src/message-hold.ts).
 */
import type { Origin } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import { MessageHold } from '../../src/message-hold.ts';
import { DEFAULT_ATTACHMENT_LIMIT } from './fit-attachment.ts';

const DAY_S = 86_400;

/** Guild boosts change the limit rarely; a day keeps it fresh without asking on every upload. */
const ATTACHMENT_LIMIT_TTL_S = DAY_S;
/** A job's message matters while it can still be retried or re-delivered. */
const JOB_MESSAGE_TTL_S = 2 * DAY_S;

const limitKey = (origin: Pick<Origin, 'workspaceId' | 'channelId'>) => `discord:attachment-limit:${origin.workspaceId ?? `channel:${origin.channelId}`}`;
const jobMessageKey = (jobId: string) => `discord:job-message:${jobId}`;
const tokenDeadKey = (jobId: string) => `discord:token-dead:${jobId}`;

export async function rememberAttachmentLimit(kv: KeyValueStore, origin: Pick<Origin, 'workspaceId' | 'channelId'>, limitBytes: number | undefined): Promise<void> {
  if (!limitBytes || !Number.isFinite(limitBytes) || limitBytes <= 0) return;
  await kv.set(limitKey(origin), String(Math.floor(limitBytes)), ATTACHMENT_LIMIT_TTL_S);
}

export async function attachmentLimitFor(kv: KeyValueStore, origin: Pick<Origin, 'workspaceId' | 'channelId'>): Promise<number> {
  const raw = await kv.get(limitKey(origin));
  const n = raw === null ? NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_ATTACHMENT_LIMIT;
}

export interface JobMessage {
  channelId: string;
  messageId: string;
  /** Whether the bot's channel routes may edit it (interaction replies and bot posts: yes; ephemeral: no). */
  via: 'interaction' | 'channel';
}

export async function rememberJobMessage(kv: KeyValueStore, jobId: string, message: JobMessage): Promise<void> {
  await kv.set(jobMessageKey(jobId), JSON.stringify(message), JOB_MESSAGE_TTL_S);
}

export async function jobMessage(kv: KeyValueStore, jobId: string): Promise<JobMessage | null> {
  const raw = await kv.get(jobMessageKey(jobId));
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<JobMessage>;
    if (typeof parsed.channelId === 'string' && typeof parsed.messageId === 'string') {
      return { channelId: parsed.channelId, messageId: parsed.messageId, via: parsed.via === 'interaction' ? 'interaction' : 'channel' };
    }
  } catch {
    // A damaged record only costs a new message.
  }
  return null;
}

/** Once a token is known dead (50027), later calls for the job go straight to the channel routes. */
export async function markTokenDead(kv: KeyValueStore, jobId: string): Promise<void> {
  await kv.set(tokenDeadKey(jobId), '1', JOB_MESSAGE_TTL_S);
}

export async function isTokenDead(kv: KeyValueStore, jobId: string): Promise<boolean> {
  return (await kv.get(tokenDeadKey(jobId))) !== null;
}

/** Held by the bot while it shows the queue position in the reply; the deliverer waits for it before its first edit. */
export const REPLY_HOLD = new MessageHold('discord:reply-hold');
