/** /cancel, /queue and /help: answered only to the person who asked (ephemeral). */
import { MessageFlags, type ChatInputCommandInteraction } from 'discord.js';
import { cancel } from '../../commands/cancel.ts';
import { help } from '../../commands/help.ts';
import type { JobSummary } from '../../src/queue/types.ts';
import { commandContext, type BotRuntime } from './bot-context.ts';
import { originFromInteraction } from './origin.ts';
import { quotePrompt } from './render.ts';
import { averageJobMs } from './state.ts';

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

function etaText(position: number | null, averageMs: number | null): string {
  if (position === 0) return 'running now';
  if (position === null) return 'finishing';
  if (averageMs === null) return `position ${position}`;
  const s = Math.max(1, Math.round((position * averageMs) / 1000));
  return `position ${position}, about ${s < 60 ? `${s} s` : `${Math.ceil(s / 60)} min`}`;
}

export function describeQueue(jobs: JobSummary[], counts: { waiting: number; active: number }, averageMs: number | null): string {
  const lines = jobs.length === 0 ? ['You have no queued or running jobs.'] : [`Your jobs (${jobs.length}):`];
  for (const job of jobs) {
    const prompt = quotePrompt(job.payload.params.prompt).slice(0, 80);
    lines.push(`• ${prompt} — ${job.payload.kind}, ${etaText(job.state === 'active' ? 0 : job.position, averageMs)}`);
  }
  lines.push(`Queue: ${counts.waiting} waiting, ${counts.active} running.`);
  const text = lines.join('\n');
  return text.length > MAX_CONTENT ? `${text.slice(0, MAX_CONTENT)}…` : text;
}

export async function handleQueue(rt: BotRuntime, interaction: ChatInputCommandInteraction): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const [jobs, counts, averageMs] = await Promise.all([rt.queue.userJobs(interaction.user.id), rt.queue.counts(), averageJobMs(rt.kv)]);
  const mine = jobs.filter((j) => j.payload.origin.platform === 'discord');
  await interaction.editReply(describeQueue(mine, counts, averageMs));
}

export async function handleHelp(rt: BotRuntime, interaction: ChatInputCommandInteraction): Promise<void> {
  const text = help({ limits: rt.limits, models: rt.models }).message;
  const reactions = [...rt.reactions.entries()].map(([emoji, a]) => `${emoji} ${a.action === 'variation' ? `${a.mode} variations of image ${a.index + 1}` : a.action === 'upscale' ? `upscale image ${a.index + 1}` : a.action}`);
  const content = `${text}\nReactions on a result: ${reactions.join(' · ')}.`;
  // Help can outgrow one message; the rest follows in a second ephemeral one.
  const first = content.slice(0, 2000);
  await interaction.reply({ content: first, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  for (let at = 2000; at < content.length; at += 2000) {
    await interaction.followUp({ content: content.slice(at, at + 2000), flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  }
}
