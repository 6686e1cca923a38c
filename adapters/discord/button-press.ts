/**
 * Buttons on result, progress and failure messages. Everything a press needs is in its
 * custom_id (action + result or job id + tile) and in Redis, so buttons keep working after
 * any restart of the bot. The press is acknowledged with a deferred update (nothing visible
 * changes) before Redis is touched; refusals are ephemeral follow-ups; a new job gets its
 * own public follow-up message, which the worker then edits.
 */
import { MessageFlags, type ButtonInteraction } from 'discord.js';
import { commandContext } from '../../commands/context.ts';
import { decideAction } from '../../commands/result-action.ts';
import { decodeAction } from '../../src/actions.ts';
import { lookUpAction } from '../../commands/bot-services.ts';
import type { BotRuntime } from './bot-context.ts';
import { handleEditPress } from './edit-press.ts';
import { startPressedJob } from './enqueue-job.ts';
import { originFromInteraction } from './origin.ts';
import { replaceWithEphemeral } from './replies.ts';
import { jobMessage } from './state.ts';

const UNKNOWN_BUTTON = 'This button is from an older version of the bot and no longer works; run /imagine again.';

export async function handleButton(rt: BotRuntime, interaction: ButtonInteraction): Promise<void> {
  const ref = decodeAction(interaction.customId);
  if (!ref) {
    await interaction.reply({ content: UNKNOWN_BUTTON, flags: MessageFlags.Ephemeral });
    return;
  }
  // Remix, Custom Zoom and Vary (Region) answer with a modal or a private link, which must be the first answer.
  if (await handleEditPress(rt, interaction, ref)) return;
  await interaction.deferUpdate();

  const origin = originFromInteraction(interaction);
  // The custom_id names the target; the press counts only on the message that shows it (a copied id on another message is refused).
  const facts = await lookUpAction(rt, ref, origin.userId, async (jobId, payload) => (await jobMessage(rt.kv, jobId))?.messageId ?? payload?.origin.messageId ?? null);
  const outcome = decideAction(ref, facts, commandContext(rt, origin), interaction.message.id);
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
    case 'job':
      await startPressedJob(rt, interaction, outcome);
      return;
  }
}
