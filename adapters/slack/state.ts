/**
 * Slack state the bot and the workers share through the key-value store (Redis in a fleet),
 * because they run in different processes:
 *  - the hold on a job's status message while the bot shows its queue position and ✖
 *    (src/message-hold.ts);
 *  - which message shows a job when the deliverer had to post a new one;
 *  - the steps of a result delivery already done (uploaded file, posted message), so a retried
 *    delivery does not upload or post twice;
 *  - the file that shows a result, so ✖ can remove it;
 *  - Events API event ids already handled (Slack redelivers events it thinks were missed).
 */
import type { KeyValueStore } from '../../src/kv.ts';
import { MessageHold } from '../../src/message-hold.ts';

const DAY_S = 86_400;
/** A job's messages matter while it can still be retried or re-delivered. */
const JOB_STATE_TTL_S = 2 * DAY_S;
/** Slack stops redelivering an event after about an hour and a half (three retries with backoff). */
export const EVENT_DEDUPE_TTL_S = 3 * 3600;

const statusKey = (jobId: string) => `slack:status:${jobId}`;
const uploadKey = (jobId: string) => `slack:upload:${jobId}`;
const resultMessageKey = (jobId: string) => `slack:result-message:${jobId}`;
const resultFileKey = (resultId: string) => `slack:result-file:${resultId}`;
const eventKey = (eventId: string) => `slack:event:${eventId}`;

/** Held by the bot while it shows the queue position in the status message; the deliverer waits for it before its first edit. */
export const STATUS_HOLD = new MessageHold('slack:status-hold');

export interface MessageRef {
  channel: string;
  ts: string;
}

function parseRef(raw: string | null): MessageRef | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<MessageRef>;
    return typeof v.channel === 'string' && typeof v.ts === 'string' ? { channel: v.channel, ts: v.ts } : null;
  } catch {
    // A damaged record only costs a new message.
    return null;
  }
}

export async function rememberStatusMessage(kv: KeyValueStore, jobId: string, ref: MessageRef): Promise<void> {
  await kv.set(statusKey(jobId), JSON.stringify(ref), JOB_STATE_TTL_S);
}

export async function statusMessage(kv: KeyValueStore, jobId: string): Promise<MessageRef | null> {
  return parseRef(await kv.get(statusKey(jobId)));
}

export async function rememberUpload(kv: KeyValueStore, jobId: string, fileId: string): Promise<void> {
  await kv.set(uploadKey(jobId), fileId, JOB_STATE_TTL_S);
}

export async function uploadedFile(kv: KeyValueStore, jobId: string): Promise<string | null> {
  return kv.get(uploadKey(jobId));
}

export async function rememberResultMessage(kv: KeyValueStore, jobId: string, ref: MessageRef): Promise<void> {
  await kv.set(resultMessageKey(jobId), JSON.stringify(ref), JOB_STATE_TTL_S);
}

export async function resultMessage(kv: KeyValueStore, jobId: string): Promise<MessageRef | null> {
  return parseRef(await kv.get(resultMessageKey(jobId)));
}

export async function rememberResultFile(kv: KeyValueStore, resultId: string, fileId: string, ttlS: number): Promise<void> {
  await kv.set(resultFileKey(resultId), fileId, ttlS);
}

export async function resultFile(kv: KeyValueStore, resultId: string): Promise<string | null> {
  return kv.get(resultFileKey(resultId));
}

export async function forgetResultFile(kv: KeyValueStore, resultId: string): Promise<void> {
  await kv.del(resultFileKey(resultId));
}

/** True the first time an event id is seen; false for every redelivery within the dedupe window. */
export async function firstDelivery(kv: KeyValueStore, eventId: string): Promise<boolean> {
  return kv.setIfAbsent(eventKey(eventId), '1', EVENT_DEDUPE_TTL_S);
}

/** Lets a redelivery through again (the first attempt failed before doing anything visible). */
export async function forgetDelivery(kv: KeyValueStore, eventId: string): Promise<void> {
  await kv.del(eventKey(eventId));
}
