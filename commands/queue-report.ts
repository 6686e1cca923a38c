/** The answer to /queue: the asker's jobs and where each stands, then the whole queue. */
import type { JobSummary, QueueCounts } from '../src/queue/types.ts';
import { formatEta, queuedEtaMs } from './job-text.ts';

/** Enough of a job id to tell two jobs apart in one person's list. */
export const SHORT_ID_LENGTH = 8;

function whereText(job: JobSummary, averageMs: number | null): string {
  const position = job.state === 'active' ? 0 : job.position;
  if (position === 0) return 'running now';
  if (position === null) return 'finishing';
  const eta = queuedEtaMs(position, averageMs);
  return `position ${position}${eta !== null ? `, starts in about ${formatEta(eta)}` : ''}`;
}

/** What sets a job apart from another with the same prompt: its kind, size, image count and seed. */
function jobShape(job: JobSummary): string {
  const p = job.payload.params;
  return `${job.payload.kind} ${p.width}x${p.height}${p.n > 1 ? ` ×${p.n}` : ''}, seed ${p.seed}`;
}

/**
 * One line per job: its prompt as the platform shows it, what it makes, where it stands (with
 * the fleet's average job time, about how long until a waiting one starts) and a short job id,
 * so that several jobs with one prompt can be told apart; then the queue's depth.
 */
export function describeQueue(
  jobs: readonly JobSummary[],
  counts: Pick<QueueCounts, 'waiting' | 'active'>,
  showPrompt: (prompt: string) => string,
  averageMs: number | null = null,
): string {
  const lines = jobs.length === 0 ? ['You have no queued or running jobs.'] : [`Your jobs (${jobs.length}):`];
  for (const job of jobs) lines.push(`• ${showPrompt(job.payload.params.prompt)} — ${jobShape(job)} · ${whereText(job, averageMs)} · job ${job.jobId.slice(0, SHORT_ID_LENGTH)}`);
  lines.push(`Queue: ${counts.waiting} waiting, ${counts.active} running.`);
  return lines.join('\n');
}
