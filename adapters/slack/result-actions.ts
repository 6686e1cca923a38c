/**
 * What a button press or a mapped reaction asks for, decided by the commands from Redis alone
 * (the stored result, the user's jobs, a failed job's payload), and the Slack side effects of
 * the outcomes that are not new jobs: removing a result, cancelling jobs.
 */
import { cancel } from '../../commands/cancel.ts';
import { commandContext, type CommandOutcome } from '../../commands/context.ts';
import { deleteResult } from '../../commands/delete.ts';
import { reseed } from '../../commands/reseed.ts';
import { retry } from '../../commands/retry.ts';
import { upscale } from '../../commands/upscale.ts';
import { variation } from '../../commands/variation.ts';
import type { ActionRef } from '../../src/actions.ts';
import type { Origin } from '../../src/jobs.ts';
import type { JobSummary } from '../../src/queue/types.ts';
import type { SlackRuntime } from './bot-context.ts';
import { renderStatus } from './render.ts';
import { forgetResultFile, resultFile } from './state.ts';

export async function decideAction(rt: SlackRuntime, ref: ActionRef, origin: Origin, userJobs?: JobSummary[]): Promise<CommandOutcome> {
  const ctx = commandContext(rt, origin);
  switch (ref.action) {
    case 'upscale':
      return upscale({ result: await rt.results.get(ref.resultId), index: ref.index }, ctx);
    case 'variation':
    case 'vary-strong':
      return variation({ result: await rt.results.get(ref.resultId), index: ref.index, mode: 'strong' }, ctx);
    case 'vary-subtle':
      return variation({ result: await rt.results.get(ref.resultId), index: ref.index, mode: 'subtle' }, ctx);
    case 'reseed':
      return reseed({ result: await rt.results.get(ref.resultId) }, ctx);
    case 'delete':
      return deleteResult({ result: await rt.results.get(ref.resultId) }, ctx);
    case 'cancel':
      return cancel({ jobs: userJobs ?? (await rt.queue.userJobs(origin.userId)), jobId: ref.jobId }, ctx);
    case 'retry':
      return retry({ failed: rt.jobPayload ? await rt.jobPayload(ref.jobId) : null }, ctx);
  }
}

/** Removes a result: its message with the buttons, the uploaded grid, and the stored record. */
export async function removeResult(rt: SlackRuntime, resultId: string, message: { channel: string; ts: string }): Promise<void> {
  const fileId = await resultFile(rt.kv, resultId);
  await rt.results.delete(resultId);
  await rt.api.deleteMessage(message.channel, message.ts);
  if (fileId) {
    await rt.api.deleteFile(fileId);
    await forgetResultFile(rt.kv, resultId);
  }
  rt.logger.info({ resultId }, 'slack result removed');
}

/**
 * Cancels jobs; a job removed before it started never reaches a worker, so its status message
 * is marked cancelled here. Returns the messages for jobs that could not be cancelled.
 */
export async function cancelJobs(rt: SlackRuntime, jobIds: string[], userId: string, jobs: JobSummary[]): Promise<string[]> {
  const notes: string[] = [];
  for (const jobId of jobIds) {
    const done = await rt.queue.cancel(jobId, userId);
    if (!done.ok) {
      notes.push(done.message);
      continue;
    }
    const payload = jobs.find((j) => j.jobId === jobId)?.payload;
    if (done.state === 'removed' && payload?.origin.messageId) {
      await rt.api.update(payload.origin.channelId, payload.origin.messageId, renderStatus(payload, { kind: 'cancelled' })).catch(() => undefined);
    }
  }
  return notes;
}
