/**
 * Buttons on result, progress and failure messages. Everything a press needs is in its
 * custom_id (action + result or job id + tile) and in Redis, so buttons keep working after
 * any restart of the bot. The press is acknowledged with a deferred update (nothing visible
 * changes) before Redis is touched; refusals are ephemeral follow-ups; a new job gets its
 * own public follow-up message, which the worker then edits.
 */
import { MessageFlags, type ButtonInteraction } from 'discord.js';
import { cancel } from '../../commands/cancel.ts';
import { commandContext, type CommandOutcome } from '../../commands/context.ts';
import { deleteResult } from '../../commands/delete.ts';
import { reseed } from '../../commands/reseed.ts';
import { retry } from '../../commands/retry.ts';
import { upscale } from '../../commands/upscale.ts';
import { variation } from '../../commands/variation.ts';
import { decodeAction, type ActionRef } from '../../src/actions.ts';
import type { Origin } from '../../src/jobs.ts';
import type { BotRuntime } from './bot-context.ts';
import { enqueueAndShow } from './enqueue-job.ts';
import { originFromInteraction } from './origin.ts';
import { quotePrompt } from './render.ts';
import { replaceWithEphemeral } from './replies.ts';
import { rememberAttachmentLimit } from './state.ts';

const UNKNOWN_BUTTON = 'This button is from an older version of the bot and no longer works; run /imagine again.';

async function decide(rt: BotRuntime, ref: ActionRef, origin: Origin): Promise<CommandOutcome> {
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
      return cancel({ jobs: await rt.queue.userJobs(origin.userId), jobId: ref.jobId }, ctx);
    case 'retry':
      return retry({ failed: rt.jobPayload ? await rt.jobPayload(ref.jobId) : null }, ctx);
  }
}

export async function handleButton(rt: BotRuntime, interaction: ButtonInteraction): Promise<void> {
  const ref = decodeAction(interaction.customId);
  if (!ref) {
    await interaction.reply({ content: UNKNOWN_BUTTON, flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.deferUpdate();

  const origin = originFromInteraction(interaction);
  const outcome = await decide(rt, ref, origin);
  switch (outcome.kind) {
    case 'message':
      await replaceWithEphemeral(interaction, outcome.message);
      return;
    case 'delete':
      await rt.results.delete(outcome.resultId);
      await interaction.message.delete();
      rt.logger.info({ resultId: outcome.resultId, by: origin.userId }, 'discord result deleted');
      return;
    case 'cancel': {
      const notes: string[] = [];
      for (const jobId of outcome.jobIds) {
        const done = await rt.queue.cancel(jobId, origin.userId);
        if (!done.ok) notes.push(done.message);
        // A job removed before it started never reaches a worker, so nobody else will say so.
        else if (done.state === 'removed') await interaction.editReply({ content: `${interaction.message.content.split('\n')[0]}\nCancelled.`, components: [] });
      }
      if (notes.length) await replaceWithEphemeral(interaction, notes.join('\n'));
      return;
    }
    case 'job': {
      await rememberAttachmentLimit(rt.kv, origin, interaction.attachmentSizeLimit);
      // The job's own message, created first so that the job's origin can name it.
      const status = await interaction.followUp({ content: `**${quotePrompt(outcome.payload.params.prompt)}** — ${outcome.summary}\nQueueing…`, allowedMentions: { parse: [] } });
      const payload = { ...outcome.payload, origin: { ...outcome.payload.origin, messageId: status.id } };
      await enqueueAndShow(rt, {
        payload,
        dedupeId: outcome.dedupeId,
        warnings: outcome.warnings,
        secret: { platform: 'discord', interactionToken: interaction.token },
        showQueued: async (message) => {
          const shown = await interaction.editReply({ message: status.id, content: message.content, components: message.components, allowedMentions: { parse: [] } });
          return { channelId: shown.channelId, messageId: shown.id, via: 'interaction' };
        },
        refuse: async (message) => {
          await interaction.deleteReply(status.id).catch(() => undefined);
          await replaceWithEphemeral(interaction, message);
        },
      });
      return;
    }
  }
}
