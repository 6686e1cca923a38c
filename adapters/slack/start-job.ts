/**
 * The shared tail of every way a job starts on Slack (slash command, button, reaction):
 *   1. a slash command opens a thread: a parent message in the channel naming the requester
 *      and the prompt (slash commands cannot be used inside threads, so the reply makes one);
 *   2. the job's status message is posted in the thread, so the job's origin can name it;
 *   3. the job is enqueued, and the status message shows its queue position and ✖ — under
 *      the status hold (state.ts), so it never lands on top of what a worker already showed;
 *   4. the person is told the position ephemerally (response_url, else chat.postEphemeral).
 * When nothing is queued (limits, a full queue, Redis unreachable) the messages made for the
 * job are removed again and the person is told why.
 */
import type { CommandOutcome } from '../../commands/context.ts';
import { averageJobMs } from '../../src/job-durations.ts';
import { InvalidJobError, type JobPayload } from '../../src/jobs.ts';
import type { EnqueueOutcome } from '../../src/queue/types.ts';
import type { SlackRuntime } from './bot-context.ts';
import { replyEphemeral, type ReplyTarget } from './replies.ts';
import { renderParent, renderStatus, statusLine } from './render.ts';
import { responseUrlGrant } from './secret.ts';
import { slackErrorCode } from './slack-api.ts';
import { STATUS_HOLD } from './state.ts';

export type JobOutcome = Extract<CommandOutcome, { kind: 'job' }>;

export interface StartJobRequest {
  outcome: JobOutcome;
  /** The thread the job belongs in; absent for /imagine, which starts a new thread. */
  threadTs?: string;
  /** The command's response_url: answers replace the command's "queuing" ephemeral and the worker may use it later. */
  commandResponseUrl?: string;
  /** A button press's response_url: answers are new ephemerals (never replacing the pressed message). */
  pressResponseUrl?: string;
}

const CANNOT_POST: Record<string, string> = {
  not_in_channel: 'I am not in this channel yet: invite me with `/invite @imagine`, then try again.',
  channel_not_found: 'I cannot see this channel: invite me with `/invite @imagine`, then try again.',
  is_archived: 'This channel is archived, so I cannot post the images here.',
  restricted_action: 'This workspace does not let me post in this channel.',
};
const QUEUE_DOWN = 'The queue is not reachable right now, so nothing was queued; please try again in a minute.';

export async function startJob(rt: SlackRuntime, req: StartJobRequest): Promise<EnqueueOutcome | null> {
  const origin = req.outcome.payload.origin;
  const channel = origin.channelId;
  const target: ReplyTarget = {
    channel,
    user: origin.userId,
    threadTs: req.threadTs,
    responseUrl: req.commandResponseUrl ?? req.pressResponseUrl,
    replaceOriginal: req.commandResponseUrl !== undefined,
  };
  const made: string[] = [];
  const undo = async () => {
    // The status message first: a parent whose replies are gone is deleted without a "deleted message" stub.
    for (const ts of made.reverse()) await rt.api.deleteMessage(channel, ts).catch(() => undefined);
  };

  let threadTs = req.threadTs;
  let statusTs: string;
  try {
    if (!threadTs) {
      threadTs = (await rt.api.postMessage(channel, renderParent(req.outcome.payload))).ts;
      made.push(threadTs);
    }
    statusTs = (await rt.api.postMessage(channel, renderStatus(req.outcome.payload, { kind: 'queueing' }), threadTs)).ts;
    made.push(statusTs);
  } catch (err) {
    const code = slackErrorCode(err);
    await undo();
    if (code && CANNOT_POST[code]) {
      await replyEphemeral(rt, target, CANNOT_POST[code]);
      return null;
    }
    throw err;
  }
  target.threadTs = threadTs;

  const payload: JobPayload = { ...req.outcome.payload, origin: { ...origin, threadId: threadTs, messageId: statusTs } };
  const eventId = payload.origin.eventId;
  if (eventId) await STATUS_HOLD.hold(rt.kv, eventId).catch(() => undefined);
  try {
    let outcome: EnqueueOutcome;
    try {
      outcome = await rt.queue.enqueue(payload, {
        dedupeId: req.outcome.dedupeId,
        ...(req.commandResponseUrl ? { secret: responseUrlGrant(req.commandResponseUrl) } : {}),
      });
    } catch (err) {
      await undo();
      if (err instanceof InvalidJobError) {
        await replyEphemeral(rt, target, err.userMessage);
        return null;
      }
      rt.logger.error({ err: { message: (err as Error).message }, channel }, 'slack enqueue failed');
      await replyEphemeral(rt, target, QUEUE_DOWN);
      return null;
    }
    if (!outcome.ok) {
      await undo();
      await replyEphemeral(rt, target, outcome.message);
      return outcome;
    }
    if (outcome.duplicate) {
      // The same event twice: its first delivery already shows the job.
      await undo();
      return outcome;
    }
    const queued = { kind: 'queued', position: outcome.position, averageMs: await averageJobMs(rt.kv) } as const;
    await rt.api.update(channel, statusTs, renderStatus(payload, queued, outcome.jobId));
    // Still under the hold: the worker replaces this ephemeral with "ready" only after the hold is released.
    const lines = [`${statusLine(queued)} · ${req.outcome.summary}`, ...req.outcome.warnings.map((w) => `⚠️ ${w.message}`)];
    await replyEphemeral(rt, target, lines.join('\n'));
    rt.logger.info({ jobId: outcome.jobId, kind: payload.kind, position: outcome.position, channel }, 'slack job queued');
    return outcome;
  } finally {
    if (eventId) await STATUS_HOLD.release(rt.kv, eventId).catch(() => undefined);
  }
}
