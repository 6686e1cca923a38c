/** The answer to /queue: the asker's jobs and where each stands, then the whole queue. */
import type { JobSummary, QueueCounts } from '../src/queue/types.ts';

function whereText(job: JobSummary, averageMs: number | null): string {
  const position = job.state === 'active' ? 0 : job.position;
  if (position === 0) return 'running now';
  if (position === null) return 'finishing';
  if (averageMs === null) return `position ${position}`;
  const s = Math.max(1, Math.round((position * averageMs) / 1000));
  return `position ${position}, about ${s < 60 ? `${s} s` : `${Math.ceil(s / 60)} min`}`;
}

/**
 * One line per job (its prompt as the platform shows it), then the queue's depth. With the
 * fleet's average job time, a waiting job's line also says about how long until it runs.
 */
export function describeQueue(
  jobs: readonly JobSummary[],
  counts: Pick<QueueCounts, 'waiting' | 'active'>,
  showPrompt: (prompt: string) => string,
  averageMs: number | null = null,
): string {
  const lines = jobs.length === 0 ? ['You have no queued or running jobs.'] : [`Your jobs (${jobs.length}):`];
  for (const job of jobs) lines.push(`• ${showPrompt(job.payload.params.prompt)} — ${job.payload.kind}, ${whereText(job, averageMs)}`);
  lines.push(`Queue: ${counts.waiting} waiting, ${counts.active} running.`);
  return lines.join('\n');
}
