/** /cancel, /queue and /help: answered only to the person who asked (ephemeral). */
import { MessageFlags, type ChatInputCommandInteraction } from 'discord.js';
import { cancel } from '../../commands/cancel.ts';
import { commandContext } from '../../commands/context.ts';
import { help } from '../../commands/help.ts';
import { describeQueue as queueReport } from '../../commands/queue-report.ts';
import type { JobSummary } from '../../src/queue/types.ts';
import type { BotRuntime } from './bot-context.ts';
import { originFromInteraction } from './origin.ts';
import { quotePrompt } from './render.ts';
import { describeDiscordReactions } from './reactions.ts';
import { averageJobMs } from '../../src/job-durations.ts';

/** Discord's content limit, with room for a closing line. */
const MAX_CONTENT = 1900;

export async function handleCancel(rt: BotRuntime, interaction: ChatInputCommandInteraction): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const origin = originFromInteraction(interaction);
  const outcome = cancel({ jobs: await rt.queue.userJobs(origin.userId) }, commandContext(rt, origin));
  if (outcome.kind !== 'cancel') {
    await interaction.editReply(outcome.kind === 'message' ? outcome.message : 'Nothing to cancel.');
    return;
  }
  const lines = [outcome.summary];
  for (const jobId of outcome.jobIds) {
    const done = await rt.queue.cancel(jobId, origin.userId);
    if (!done.ok) lines.push(done.message);
  }
  await interaction.editReply(lines.join('\n'));
}

export function describeQueue(jobs: JobSummary[], counts: { waiting: number; active: number }, averageMs: number | null): string {
  const text = queueReport(jobs, counts, (prompt) => quotePrompt(prompt).slice(0, 80), averageMs);
  return text.length > MAX_CONTENT ? `${text.slice(0, MAX_CONTENT)}…` : text;
}

export async function handleQueue(rt: BotRuntime, interaction: ChatInputCommandInteraction): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const [jobs, counts, averageMs] = await Promise.all([rt.queue.userJobs(interaction.user.id), rt.queue.counts(), averageJobMs(rt.kv)]);
  const mine = jobs.filter((j) => j.payload.origin.platform === 'discord');
  await interaction.editReply(describeQueue(mine, counts, averageMs));
}

/** Discord's message length limit. */
const MESSAGE_LIMIT = 2000;

/** Split at line ends into messages Discord accepts. */
export function splitMessage(text: string, limit = MESSAGE_LIMIT): string[] {
  const parts: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    for (let piece = line; ; ) {
      const room = limit - (current ? current.length + 1 : 0);
      if (piece.length <= room) {
        current = current ? `${current}\n${piece}` : piece;
        break;
      }
      if (current) {
        parts.push(current);
        current = '';
        continue;
      }
      parts.push(piece.slice(0, limit));
      piece = piece.slice(limit);
    }
  }
  if (current) parts.push(current);
  return parts;
}

export async function handleHelp(rt: BotRuntime, interaction: ChatInputCommandInteraction): Promise<void> {
  const reactions = describeDiscordReactions(rt.reactions);
  const text = [help({ limits: rt.limits, models: rt.models }).message, ...(reactions ? [reactions] : [])].join('\n');
  const [first, ...rest] = splitMessage(text);
  await interaction.reply({ content: first, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  for (const part of rest) await interaction.followUp({ content: part, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
}
