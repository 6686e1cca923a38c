/**
 * The Slack side effects of what a button press or a mapped reaction decided
 * (commands/result-action.ts) when it is not a new job: removing a result, cancelling jobs.
 */
import type { JobSummary } from '../../src/queue/types.ts';
import type { SlackRuntime } from './bot-context.ts';
import { renderStatus } from './render.ts';
import { forgetResultFile, resultFile } from './state.ts';

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
