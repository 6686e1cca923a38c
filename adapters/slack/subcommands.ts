/**
 * Slack apps get one slash command here, so the other commands are words after it:
 * `/imagine help`, `/imagine cancel`, `/imagine queue` (a prompt of exactly one of these words
 * is read as the command). Help is pure and answered in the acknowledgement; cancel and queue
 * need Redis, so they are acknowledged first and answered through the response_url.
 */
import { cancel } from '../../commands/cancel.ts';
import { COMMANDS } from '../../commands/command-list.ts';
import { slackCommandRules } from './command-rules.ts';
import { commandContext } from '../../commands/context.ts';
import { helpText } from '../../commands/help.ts';
import { describeQueue as queueReport } from '../../commands/queue-report.ts';
import { averageJobMs } from '../../src/job-durations.ts';
import type { Origin } from '../../src/jobs.ts';
import type { JobSummary } from '../../src/queue/types.ts';
import type { SlackRuntime } from './bot-context.ts';
import { describeSlackReactions } from './reactions.ts';
import { replyEphemeral } from './replies.ts';
import { cancelJobs } from './result-actions.ts';
import { promptText } from './slack-text.ts';

export type Subcommand = 'help' | 'cancel' | 'queue';

export function subcommandOf(text: string): Subcommand | null {
  const word = text.trim().toLowerCase();
  if (word === '' || word === 'help') return 'help';
  return word === 'cancel' || word === 'queue' ? word : null;
}

/** How each command in the shared list is typed on Slack. */
const SLACK_USAGE: Record<(typeof COMMANDS)[number]['usage'], string> = {
  '/imagine <prompt> [flags]': '/imagine <prompt> [flags]',
  '/cancel [job]': '/imagine cancel',
  '/queue': '/imagine queue',
  '/help': slackCommandRules.helpCommand,
};

export function slackHelp(rt: SlackRuntime): string {
  const lines = helpText({ limits: rt.limits, models: rt.models }).split('\n');
  // The shared help starts with one line per command; Slack types them as words after /imagine.
  for (let i = 0; i < COMMANDS.length; i++) lines[i] = lines[i].replace(`\`${COMMANDS[i].usage}\``, `\`${SLACK_USAGE[COMMANDS[i].usage]}\``);
  const reactions = describeSlackReactions(rt.reactions);
  if (reactions) lines.push(reactions);
  return lines.join('\n');
}

export async function runCancel(rt: SlackRuntime, origin: Origin, responseUrl: string): Promise<void> {
  const jobs = (await rt.queue.userJobs(origin.userId)).filter((j) => j.payload.origin.platform === 'slack');
  const outcome = cancel({ jobs }, commandContext(rt, origin));
  let text: string;
  if (outcome.kind === 'cancel') {
    const notes = await cancelJobs(rt, outcome.jobIds, origin.userId, jobs);
    text = [outcome.summary, ...notes].join('\n');
  } else {
    text = outcome.kind === 'message' ? outcome.message : 'Nothing to cancel.';
  }
  await replyEphemeral(rt, { channel: origin.channelId, user: origin.userId, responseUrl, replaceOriginal: true }, text);
}

/** Plain text, escaped once where it is sent (renderNotice). */
export function describeQueue(jobs: JobSummary[], counts: { waiting: number; active: number }, averageMs: number | null): string {
  return queueReport(jobs, counts, (prompt) => promptText(prompt, 80), averageMs);
}

export async function runQueue(rt: SlackRuntime, origin: Origin, responseUrl: string): Promise<void> {
  const [jobs, counts, averageMs] = await Promise.all([rt.queue.userJobs(origin.userId), rt.queue.counts(), averageJobMs(rt.kv)]);
  const mine = jobs.filter((j) => j.payload.origin.platform === 'slack');
  await replyEphemeral(rt, { channel: origin.channelId, user: origin.userId, responseUrl, replaceOriginal: true }, describeQueue(mine, counts, averageMs));
}
